"""Jobs and model versions: look here, act through the pages, the API and the jobs."""

from django.contrib import admin

from labeling.admin import ReadOnlyAdmin
from learners.models import Job, ModelVersion


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["pk", "project", "kind", "state", "progress", "created_at", "heartbeat_at", "finished_at"]
    list_filter = ["kind", "state"]
    safety_note = (
        "Jobs are written by the workers and the sweeper only; start one from the project's pages or the API."
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["short_id", "project", "status", "is_active", "train_size", "test_size", "created_at"]
    list_filter = ["status", "is_active"]
    safety_note = (
        "Read-only: a model's artifact, sha256 and metrics are what training produced, and "
        "is_active changes only through the activate job, which checks the artifact and keeps "
        "exactly one active model per project."
    )
