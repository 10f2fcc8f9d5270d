"""The Django admin is for looking and for safe edits only.

The services keep invariants that a plain model form would break: a project's seed and test
fraction decide every item's split, annotations are append-only history behind each item's
label, and dataset versions must stay reproducible. So those fields are read-only here, and
every change form says why and where the real change is made.
"""

from django.contrib import admin
from django.http import HttpRequest

from labeling.models import Annotation, DatasetVersion, ImportBatch, Item, Label, Membership, Project, Skip


class SafetyNoteMixin:
    """Shows `safety_note` at the top of the change form, so an admin sees why fields are locked."""

    safety_note = ""

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.safety_note:
            return fieldsets
        (name, options), *rest = fieldsets
        return [(name, {**options, "description": self.safety_note}), *rest]


class ReadOnlyAdmin(SafetyNoteMixin, admin.ModelAdmin):
    """Look only: no add, change or delete (the view permission still shows every field)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(SafetyNoteMixin, admin.ModelAdmin):
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
    safety_note = (
        "The seed is read-only, and so is the test fraction once the project has items: together "
        "they decide which items are held out for testing, and changing them would mix test items "
        "into training and make past scores incomparable."
    )

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is not None and obj.items.exists():
            return ["seed", "test_fraction"]
        return ["seed"]


@admin.register(Item)
class ItemAdmin(SafetyNoteMixin, admin.ModelAdmin):
    list_display = ["external_id", "project", "split", "label", "label_count", "conflict", "created_at"]
    list_filter = ["project", "split", "conflict"]
    search_fields = ["external_id", "text"]
    readonly_fields = [
        "project",
        "external_id",
        "text",
        "content_hash",
        "split",
        "rand_key",
        "import_batch",
        "label",
        "label_origin",
        "label_count",
        "conflict",
        "origin",
        "disputed",
        "last_labeled_at",
    ]
    safety_note = (
        "Only the meta data can be edited here. The split, text and content hash are fixed at import "
        "(dataset versions and scores depend on them), and the label follows the item's annotations: "
        "correct a label on the labeling page or through the API."
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # items come in through an import, which assigns splits and hashes


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    """Annotations are append-only; a correction is a new annotation, made where labels are made."""

    list_display = ["item", "label", "user", "origin", "created_at"]
    list_filter = ["origin"]
    safety_note = (
        "Annotations are append-only history and cannot be added, changed or deleted here: a "
        "correction is a new annotation, made on the labeling page or through the API."
    )


@admin.register(Skip)
class SkipAdmin(admin.ModelAdmin):
    """Skips and flags; the project's Flagged page is where admins resolve flags."""

    list_display = ["item", "user", "flagged", "comment", "created_at", "resolved_at", "resolved_by"]
    list_filter = ["flagged", ("resolved_at", admin.EmptyFieldListFilter)]
    raw_id_fields = ["item", "user", "resolved_by"]


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ["file_name", "project", "rows", "pool", "test", "labeled", "created_at"]
    safety_note = "An import's record of what came in; imports are made from the project's Import page."


@admin.register(DatasetVersion)
class DatasetVersionAdmin(ReadOnlyAdmin):
    safety_note = "Dataset versions are frozen so that an export can be reproduced byte for byte."
