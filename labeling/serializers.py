"""Validation of API input and the JSON shapes of API output."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeling.forms import clean_guidelines, clean_label_names, clean_project_name, clean_strategy_weights
from labeling.importing import excerpt
from labeling.models import Annotation, DatasetVersion, Item, Label, Membership, Project
from labeling.queue import UNAIDED_REASON, Served
from labeling.services import SETTINGS_FIELDS


class LabelNamesField(serializers.ListField):
    """Label names in: a list of strings; out: the project's labels in order."""

    child = serializers.CharField(trim_whitespace=False)

    def to_representation(self, labels: object) -> list[str]:
        return [label.name for label in labels.all()]


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "number", "minimum": 0},
        "description": "Ranker name -> share of each batch; {} for Sift's default mix.",
        "example": {"margin": 0.8, "random": 0.2},
    }
)
class StrategyWeightsField(serializers.JSONField):
    """Raw JSON in, so clean_strategy_weights words every error the same as the page form."""


# The page form's bounds (ProjectSettingsForm); the model field alone allows 0..32767.
COLD_START_BOUNDS = {"min_value": 1, "max_value": 50}


class ProjectSerializer(serializers.ModelSerializer):
    strategy_weights = StrategyWeightsField(required=False)
    labels = LabelNamesField(help_text="At least two distinct names; their order is the keyboard order.")
    label_keys = serializers.SerializerMethodField(help_text="Label name -> its keyboard key.")

    class Meta:
        model = Project
        # Every setting PATCH accepts (SETTINGS_FIELDS) is also in the project's JSON.
        fields = [
            "id",
            "slug",
            "name",
            "labels",
            "label_keys",
            *SETTINGS_FIELDS,
            "promotion_tolerance",
            "created_at",
        ]
        read_only_fields = ["id", "slug", "created_at"]
        extra_kwargs = {
            "name": {"help_text": "Unique among projects, ignoring case."},
            "cold_start_min_per_label": COLD_START_BOUNDS,
        }

    def validate_labels(self, value: list[str]) -> list[str]:
        return clean_label_names(value)

    def validate_strategy_weights(self, value: object) -> dict[str, float]:
        return clean_strategy_weights(value)

    def validate_guidelines(self, value: str) -> str:
        return clean_guidelines(value)

    def validate_name(self, value: str) -> str:
        return clean_project_name(value)

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_label_keys(self, project: Project) -> dict[str, str]:
        return {label.name: label.key for label in project.labels.all()}


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.ANNOTATOR)

    def validate_username(self, value: str):
        user = get_user_model().objects.filter(username=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"There is no active user {excerpt(value)}.")
        return user


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)


class ClientIdField(serializers.UUIDField):
    """Optional idempotency key: the same UUID sent twice records one annotation."""

    default_error_messages = {
        "invalid": "Must be a valid UUID. {value!r} is not one; crypto.randomUUID() makes one, "
        "e.g. 0f8fad5b-d9cb-469f-a165-70867728950e."
    }

    def __init__(self, **kwargs: object):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "A UUID the client makes per label; a retry with the same one returns the first "
            "annotation instead of recording a second.",
        )
        super().__init__(**kwargs)


class AnnotationSerializer(serializers.Serializer):
    label = serializers.CharField(allow_null=True)
    duration_ms = serializers.IntegerField(min_value=0, max_value=24 * 3600 * 1000, required=False)
    client_id = ClientIdField()

    def validate_label(self, value: str | None) -> Label | None:
        if value is None:
            return None
        project = self.context["item"].project
        label = project.labels.filter(name=value).first()
        if label is None:
            names = list(project.labels.values_list("name", flat=True))
            listed = ", ".join(names) if len(names) <= 20 else f"{len(names)} labels"
            raise serializers.ValidationError(
                f"{excerpt(value)} is not one of this project's labels ({listed})."
            )
        return label


class SnapshotSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True, default="", max_length=2000)


class DatasetVersionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    counts = serializers.DictField(
        child=serializers.JSONField(), help_text="Items and labels in the version, by split and label."
    )

    class Meta:
        model = DatasetVersion
        fields = [
            "number",
            "sha256",
            "created_at",
            "created_by",
            "parent",
            "counts",
            "note",
            "max_annotation_id",
            "rule",
        ]


class SkipSerializer(serializers.Serializer):
    flag = serializers.BooleanField(default=False)
    comment = serializers.CharField(allow_blank=True, default="", max_length=2000)


def serialize_item(item: Item) -> dict:
    return {"id": item.pk, "external_id": item.external_id, "text": item.text, "meta": item.meta}


def serialize_served(served: Served) -> dict:
    suggestion = None
    if served.suggested_label is not None:
        suggestion = {
            "label": served.suggested_label.name,
            "confidence": round(served.suggestion_confidence, 4),
        }
    reason = {"strategy": served.strategy, "score": served.score, "model": served.model_ref or None}
    if served.reason == UNAIDED_REASON:
        # The true strategy stays on the lease (and the annotation) for the adaptive mix;
        # the annotator sees what a test item looks like.
        reason = {"strategy": "unaided", "score": None, "model": None}
    return {
        "item": serialize_item(served.item),
        "suggestion": suggestion,
        "reason": {**reason, "text": served.reason},
    }


class ProjectSettingsSerializer(serializers.ModelSerializer):
    """PATCH /api/v1/projects/{id}: any subset of the settings; the model's bounds apply."""

    strategy_weights = StrategyWeightsField(required=False)

    class Meta:
        model = Project
        fields = list(SETTINGS_FIELDS)
        extra_kwargs = {"cold_start_min_per_label": COLD_START_BOUNDS}

    def validate_strategy_weights(self, value: object) -> dict[str, float]:
        return clean_strategy_weights(value)

    def validate_guidelines(self, value: str) -> str:
        return clean_guidelines(value)

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                f"Not a project setting: {', '.join(unknown)}. Settings: {', '.join(self.fields)}."
            )
        if not attrs:
            raise serializers.ValidationError(f"Nothing to change. Settings: {', '.join(self.fields)}.")
        return attrs


class LabelChoiceSerializer(serializers.Serializer):
    """A label of the item's project by name; null only where `allow_null` is set in context."""

    label = serializers.CharField(allow_null=True)
    client_id = ClientIdField()

    def validate_label(self, value: str | None) -> Label | None:
        if value is None:
            if not self.context.get("allow_null"):
                raise serializers.ValidationError("Choose a label.")
            return None
        return AnnotationSerializer(context=self.context).validate_label(value)


def serialize_history_entry(annotation: Annotation) -> dict:
    item = annotation.item
    return {
        "annotation": annotation.pk,
        "item": {"id": item.pk, "external_id": item.external_id, "text": item.text},
        "label": annotation.label.name if annotation.label else None,
        "suggested": annotation.suggested_label.name if annotation.suggested_label else None,
        "created_at": annotation.created_at,
    }


def serialize_review_item(review) -> dict:
    item = review.item
    return {
        "item": serialize_item(item),
        "current_label": item.label.name if item.label_id else None,
        "votes": [{"annotator": v.username, "label": v.label, "at": v.created_at} for v in review.votes],
        "flags": [
            {"annotator": f.user.username, "comment": f.comment, "at": f.created_at} for f in review.flags
        ],
    }
