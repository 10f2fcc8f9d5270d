"""The JSON shapes of the items browser's API (lists, one item, neighbours, bulk actions)."""

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
        choices=["flag", "label", "skip", "collect", "adjudicate"],
        help_text="flag: hold for an admin's review; label: give `label` (origin bulk, revertible as one); "
        "skip: take out of the active queue; collect: add to the collection `collection`; "
        "adjudicate: send to the admins' disagreement queue. "
        "To download a selection: POST /api/v1/projects/{id}/items/export.",
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
    label = serializers.CharField(required=False, help_text="label: the label's name.")
    collection = serializers.CharField(
        required=False, max_length=100, help_text="collect: the collection's name."
    )
    include_test = serializers.BooleanField(
        default=False,
        help_text="label: also label test items. Risky: test labels judge every model, and labels "
        "given in bulk (often from a model's view) bend that yardstick toward the model.",
    )

    def validate(self, data: dict) -> dict:
        if ("ids" in data) == ("filter" in data):
            raise serializers.ValidationError("Give either `ids` or `filter`, not both and not neither.")
        if data["action"] == "label" and not data.get("label"):
            raise serializers.ValidationError({"label": ["Name the label to give."]})
        if data["action"] == "collect" and not (data.get("collection") or "").strip():
            raise serializers.ValidationError({"collection": ["Name the collection."]})
        return data


class SelectionExportSerializer(serializers.Serializer):
    """Download chosen ids or a whole filtered result as CSV or JSONL (one of ids or filter)."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=10_000
    )
    filter = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text='The items list\'s query parameters, e.g. {"q": "refund", "state": "unlabeled"}.',
    )
    format = serializers.ChoiceField(choices=["csv", "jsonl"], default="csv")

    def validate(self, data: dict) -> dict:
        if ("ids" in data) == ("filter" in data):
            raise serializers.ValidationError("Give either `ids` or `filter`, not both and not neither.")
        return data


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    selected = serializers.IntegerField(help_text="Items in the selection.")
    changed = serializers.IntegerField(help_text="Items the action changed (already flagged ones are not).")
    bulk_action = serializers.IntegerField(
        allow_null=True, help_text="The recorded action's id (label: POST /api/v1/bulk-actions/{id}/revert)."
    )


class BulkRevertSerializer(serializers.Serializer):
    bulk_action = serializers.IntegerField()
    withdrawn = serializers.IntegerField(help_text="Items whose bulk label was taken back.")


class ItemAnnotationSerializer(serializers.Serializer):
    """One annotation of the item (annotators: only theirs)."""

    id = serializers.IntegerField()
    user = serializers.CharField(allow_null=True)
    label = serializers.CharField(allow_null=True, help_text="null: the annotator took their label back.")
    origin = serializers.CharField(help_text="human, import, adjudication or bulk.")
    created_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField(allow_null=True)
    suggested_label = serializers.CharField(allow_null=True, help_text="The suggestion shown with it.")
    suggestion_confidence = serializers.FloatField(allow_null=True)
    model_ref = serializers.CharField(allow_null=True, help_text="The model that served the suggestion.")
    predicted_label = serializers.CharField(
        allow_null=True, required=False, help_text="Admins: the model's guess, shown or withheld."
    )


class ItemRankingPredictionSerializer(serializers.Serializer):
    ranking = serializers.IntegerField()
    model_ref = serializers.CharField(allow_null=True, help_text="The model version that ranked it.")
    active = serializers.BooleanField(help_text="The ranking the queue serves now.")
    source = serializers.ChoiceField(
        choices=["queue", "labeled"], help_text="A queue entry, or a labeled item."
    )
    label = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)


class QueuePlaceSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="1: served next (before leases and skips).")
    priority = serializers.FloatField()
    strategy = serializers.CharField(help_text="The ranker that queued it.")
    score = serializers.FloatField()
    reason = serializers.CharField(help_text="Why it is there, in plain words.")


class ItemDetailSerializer(ItemRowSerializer):
    """The item page's data. `disputed`, `predictions` and `queue` are for admins only."""

    history = ItemAnnotationSerializer(many=True)
    disputed = serializers.BooleanField(required=False, help_text="Live votes name more than one label.")
    predictions = ItemRankingPredictionSerializer(many=True, required=False)
    queue = QueuePlaceSerializer(allow_null=True, required=False, help_text="Its place in the active queue.")


class NeighbourSerializer(ItemRowSerializer):
    similarity = serializers.FloatField(help_text="Cosine of the TF-IDF vectors, 0 to 1.")


class SimilarItemsSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    neighbours = NeighbourSerializer(many=True, help_text="Most similar first.")
