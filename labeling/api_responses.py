"""The JSON shapes of the labeling API's answers, for the OpenAPI schema.

The views build these bodies from the services' dicts; these serializers describe them so
that a client can be generated from /api/v1/schema. tests/test_schema.py checks real
answers against them.
"""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_DESCRIPTIONS = {
    400: "Bad input: `error` says what; `fields` names each bad field when there are several.",
    401: "No or bad credentials: send `Authorization: Token KEY` or log in.",
    403: "Logged in but not allowed (for example an annotator asking for an admin action).",
    404: "No such object, or the caller is not a member of its project.",
    409: "Conflicts with the current state: `error` says with what.",
    503: "A background service (the job broker) is unreachable; retry later.",
}


class ErrorSerializer(serializers.Serializer):
    """Every API error: {"error": "..."}, plus `fields` for input errors."""

    error = serializers.CharField(help_text="What went wrong, in a sentence a person can act on.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Input errors by field name: a list of messages (a dict for nested input).",
    )


def errors(*codes: int, serializer: type[serializers.Serializer] = ErrorSerializer) -> dict:
    """Schema responses for the given error statuses, all with the shared error body."""
    return {code: OpenApiResponse(serializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


class ImportRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Line number in the file (the header is line 1).")
    error = serializers.CharField()


class ImportErrorSerializer(ErrorSerializer):
    rows = ImportRowErrorSerializer(many=True, required=False)


class ImportResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    imported = serializers.IntegerField()
    pool = serializers.IntegerField()
    test = serializers.IntegerField()
    labeled = serializers.IntegerField()


class MemberResultSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField()


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    text = serializers.CharField()
    meta = serializers.DictField(child=serializers.JSONField(), help_text="The row's extra columns.")


class ServedSerializer(serializers.Serializer):
    item = ItemSerializer()
    suggestion = inline_serializer(
        "Suggestion",
        {"label": serializers.CharField(), "confidence": serializers.FloatField()},
        allow_null=True,
    )
    reason = inline_serializer(
        "ServedReason",
        {
            "strategy": serializers.CharField(),
            "score": serializers.FloatField(allow_null=True),
            "model": serializers.CharField(allow_null=True),
            "text": serializers.CharField(help_text="Why this item, in words."),
        },
    )


class AnnotationResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField()
    label = serializers.CharField(allow_null=True, help_text="null: the label was withdrawn.")
    created_at = serializers.DateTimeField()


class SkipResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField()
    flagged = serializers.BooleanField()


class SplitCountsSerializer(serializers.Serializer):
    pool = serializers.IntegerField()
    test = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    pool = serializers.IntegerField()
    test = serializers.IntegerField()
    labeled_pool = serializers.IntegerField()
    labeled_test = serializers.IntegerField()
    annotations = serializers.IntegerField()
    per_label = serializers.DictField(child=SplitCountsSerializer(), help_text="Label name -> counts.")


class HistoryEntrySerializer(serializers.Serializer):
    annotation = serializers.IntegerField()
    item = inline_serializer(
        "HistoryItem",
        {
            "id": serializers.IntegerField(),
            "external_id": serializers.CharField(),
            "text": serializers.CharField(),
        },
    )
    label = serializers.CharField(allow_null=True)
    suggested = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class HistorySerializer(serializers.Serializer):
    history = HistoryEntrySerializer(many=True)


class ProgressSerializer(serializers.Serializer):
    today = serializers.IntegerField()
    mine = serializers.IntegerField()
    pool_labeled = serializers.IntegerField()
    pool_total = serializers.IntegerField()
    test_labeled = serializers.IntegerField(required=False, help_text="Project admins only.")
    test_total = serializers.IntegerField(required=False, help_text="Project admins only.")
    test_target = serializers.IntegerField(required=False, help_text="Project admins only.")


class FleissSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    items = serializers.IntegerField()
    raters_per_item = serializers.IntegerField()


class PairSerializer(serializers.Serializer):
    annotators = serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2)
    items = serializers.IntegerField()
    agreement = serializers.FloatField()
    cohen_kappa = serializers.FloatField(allow_null=True)


class LabelAgreementSerializer(serializers.Serializer):
    label = serializers.CharField()
    ratings = serializers.FloatField()
    agreement = serializers.FloatField()
    confused_with = serializers.CharField(allow_null=True)
    confused_share = serializers.FloatField()


class AgreementSerializer(serializers.Serializer):
    items_compared = serializers.IntegerField()
    annotators = serializers.IntegerField()
    krippendorff_alpha = serializers.FloatField(allow_null=True)
    fleiss_kappa = FleissSerializer(allow_null=True)
    pairs = PairSerializer(many=True, help_text="An annotator sees only the pairs they are part of.")
    labels = LabelAgreementSerializer(many=True)
    open_conflicts = serializers.IntegerField()


class ShareSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)


class SuggestionUseSerializer(serializers.Serializer):
    shown = serializers.IntegerField()
    accepted = serializers.IntegerField()
    acceptance_rate = serializers.FloatField(allow_null=True)
    overruled = serializers.IntegerField()
    overruled_rate = serializers.FloatField(allow_null=True)


class AnnotatorStatsSerializer(serializers.Serializer):
    username = serializers.CharField()
    items = serializers.IntegerField()
    today = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    items_per_hour = serializers.FloatField(allow_null=True)
    agreement_with_others = ShareSerializer()
    agreement_with_adjudication = ShareSerializer()
    suggestions = SuggestionUseSerializer()


class TeamStatsSerializer(serializers.Serializer):
    annotators = AnnotatorStatsSerializer(many=True)
    suggestions = SuggestionUseSerializer()


class ReviewItemSerializer(serializers.Serializer):
    item = ItemSerializer()
    current_label = serializers.CharField(allow_null=True)
    votes = inline_serializer(
        "Vote",
        {
            "annotator": serializers.CharField(),
            "label": serializers.CharField(allow_null=True),
            "at": serializers.DateTimeField(),
        },
        many=True,
    )
    flags = inline_serializer(
        "Flag",
        {
            "annotator": serializers.CharField(),
            "comment": serializers.CharField(allow_blank=True),
            "at": serializers.DateTimeField(),
        },
        many=True,
    )


class ReviewListSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="All of them; `items` may list fewer.")
    items = ReviewItemSerializer(many=True)


class AdjudicationResultSerializer(serializers.Serializer):
    annotation = serializers.IntegerField()
    item = serializers.IntegerField()
    label = serializers.CharField()
    conflict = serializers.BooleanField()


class FlagsResolvedSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    closed = serializers.IntegerField(help_text="How many open flags were closed.")
    label = serializers.CharField(allow_null=True)


class TokenRevokedSerializer(serializers.Serializer):
    revoked = serializers.BooleanField(help_text="False: the caller had no token.")


_DIFF_ENTRY = {
    "item": serializers.IntegerField(),
    "id": serializers.CharField(help_text="The item's external id."),
    "text": serializers.CharField(help_text="The start of the text."),
    "split": serializers.CharField(),
}
_DIFF_LABELED = inline_serializer("DiffEntry", {**_DIFF_ENTRY, "label": serializers.CharField()}, many=True)
_DIFF_CHANGED = inline_serializer(
    "DiffChange", {**_DIFF_ENTRY, "from": serializers.CharField(), "to": serializers.CharField()}, many=True
)

# An inline serializer, not a class: "from" is a Python keyword and cannot be a class attribute.
VersionDiffSerializer = inline_serializer(
    "VersionDiff",
    {
        "from": serializers.IntegerField(),
        "to": serializers.IntegerField(),
        "counts": inline_serializer(
            "DiffCounts",
            {name: serializers.IntegerField() for name in ("added", "changed", "removed", "unchanged")},
        ),
        "transitions": inline_serializer(
            "DiffTransition",
            {
                "from": serializers.CharField(),
                "to": serializers.CharField(),
                "count": serializers.IntegerField(),
            },
            many=True,
        ),
        "added": _DIFF_LABELED,
        "changed": _DIFF_CHANGED,
        "removed": _DIFF_LABELED,
        "truncated": serializers.BooleanField(help_text="True: a list holds only its first `limit` entries."),
    },
)
