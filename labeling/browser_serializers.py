"""The JSON shape of GET /api/v1/projects/{id}/items, for the OpenAPI schema."""

from rest_framework import serializers


class ImportBatchRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    file_name = serializers.CharField()


class ItemRowSerializer(serializers.Serializer):
    """One item. Admin-only fields are absent for annotators; `your_label` only for them."""

    id = serializers.IntegerField()
    external_id = serializers.CharField()
    text = serializers.CharField()
    meta = serializers.DictField(child=serializers.JSONField(), help_text="The row's extra columns.")
    created_at = serializers.DateTimeField()
    import_batch = ImportBatchRefSerializer(allow_null=True)
    split = serializers.ChoiceField(choices=["pool", "test"], required=False)
    label = serializers.CharField(allow_null=True, required=False, help_text="The resolved label.")
    label_origin = serializers.CharField(
        allow_null=True, required=False, help_text="How it was resolved: human, import or adjudication."
    )
    conflict = serializers.BooleanField(required=False, help_text="Annotators disagree, undecided.")
    annotations = serializers.IntegerField(required=False, help_text="Live annotations with a label.")
    open_flags = serializers.IntegerField(required=False)
    skips = serializers.IntegerField(required=False)
    predicted_label = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="The active model's guess (queued items, and labeled pool items since its retrain).",
    )
    confidence = serializers.FloatField(allow_null=True, required=False)
    priority = serializers.FloatField(allow_null=True, required=False, help_text="Higher is served sooner.")
    reason = serializers.CharField(allow_null=True, required=False, help_text="Why the queue ranks it there.")
    your_label = serializers.CharField(
        allow_null=True, required=False, help_text="Annotators: your latest label (null: taken back)."
    )


class ItemPageSerializer(serializers.Serializer):
    items = ItemRowSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Cursor of the next page; null on the last.")
    previous = serializers.CharField(
        allow_null=True, help_text="Cursor of the page before; null on the first."
    )


class BulkActionSerializer(serializers.Serializer):
    """An admin's bulk action on chosen ids or on every item a filter passes (one of the two)."""

    action = serializers.ChoiceField(
        choices=["flag"], help_text="flag: hold the items for an admin's review."
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=10_000
    )
    filter = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text='The items list\'s query parameters, e.g. {"q": "refund", "state": "unlabeled"}.',
    )
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate(self, data: dict) -> dict:
        if ("ids" in data) == ("filter" in data):
            raise serializers.ValidationError("Give either `ids` or `filter`, not both and not neither.")
        return data


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    selected = serializers.IntegerField(help_text="Items in the selection.")
    changed = serializers.IntegerField(help_text="Items the action changed (already flagged ones are not).")
