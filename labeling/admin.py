from django.contrib import admin

from labeling.models import Annotation, DatasetVersion, ImportBatch, Item, Label, Membership, Project, Skip


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "test_fraction",
        "retrain_every",
        "overlap",
        "suggestion_withhold_share",
        "created_at",
    ]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [LabelInline, MembershipInline]
    exclude = ["active_ranking"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["external_id", "project", "split", "label", "label_count", "conflict", "created_at"]
    list_filter = ["project", "split", "conflict"]
    search_fields = ["external_id", "text"]
    raw_id_fields = ["import_batch", "label"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    """Read-only: annotations are append-only; a correction is a new annotation."""

    list_display = ["item", "label", "user", "origin", "created_at"]
    list_filter = ["origin"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Skip)
class SkipAdmin(admin.ModelAdmin):
    """Skips and flags; the project's Flagged page is where admins resolve flags."""

    list_display = ["item", "user", "flagged", "comment", "created_at", "resolved_at", "resolved_by"]
    list_filter = ["flagged", ("resolved_at", admin.EmptyFieldListFilter)]
    raw_id_fields = ["item", "user", "resolved_by"]


admin.site.register(ImportBatch)
admin.site.register(DatasetVersion)
