from django.contrib import admin

from learners.models import Job, ModelVersion


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["pk", "project", "kind", "state", "progress", "created_at", "heartbeat_at", "finished_at"]
    list_filter = ["kind", "state"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["short_id", "project", "status", "is_active", "train_size", "test_size", "created_at"]
    list_filter = ["status", "is_active"]
