"""Request and response shapes of the serving API (for drf-spectacular and for checks)."""

from rest_framework import serializers


class ServiceTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for, e.g. 'support bot'.")


class ServiceTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters.")
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


class ServiceTokenCreatedSerializer(ServiceTokenSerializer):
    token = serializers.CharField(help_text="The key: shown only now. Send it as `Authorization: Token KEY`.")


class PredictRequestSerializer(serializers.Serializer):
    texts = serializers.ListField(
        child=serializers.JSONField(), help_text="The texts to label (each should be a string)."
    )


class LabelProbabilitySerializer(serializers.Serializer):
    label = serializers.CharField()
    probability = serializers.FloatField()


class BestGuessSerializer(serializers.Serializer):
    label = serializers.CharField()
    confidence = serializers.FloatField()


class ServedPredictionSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the text in the request.")
    prediction_id = serializers.UUIDField(help_text="Send feedback to /api/v1/predictions/{id}/feedback.")
    outcome = serializers.ChoiceField(["label", "abstain", "refused"])
    label = serializers.CharField(allow_null=True, help_text="Only when outcome is 'label'.")
    confidence = serializers.FloatField(allow_null=True)
    best_guess = BestGuessSerializer(
        allow_null=True, help_text="When abstaining: the model's guess, below the confidence threshold."
    )
    top_k = LabelProbabilitySerializer(many=True)
    reason = serializers.CharField(
        allow_null=True,
        help_text="Why refused: not_a_string, empty, too_long, not_text or out_of_distribution.",
    )
    reason_text = serializers.CharField(allow_null=True)
    flags = serializers.ListField(
        child=serializers.CharField(),
        help_text="'out_of_distribution' when answered although unlike training.",
    )
    unknown_word_rate = serializers.FloatField(allow_null=True)
    cached = serializers.BooleanField()
    model = serializers.CharField(help_text="The model version's id.")
    dataset_version = serializers.IntegerField(
        allow_null=True, help_text="The dataset version it was trained on."
    )


class PredictResponseSerializer(serializers.Serializer):
    model = serializers.CharField()
    dataset_version = serializers.IntegerField(allow_null=True)
    predictions = ServedPredictionSerializer(many=True)


class FeedbackRequestSerializer(serializers.Serializer):
    correct = serializers.BooleanField()
    label = serializers.CharField(required=False, help_text="The right label, when the answer was wrong.")


class FeedbackResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prediction = serializers.UUIDField()
    correct = serializers.BooleanField()
    label = serializers.CharField(allow_null=True)
    item = serializers.IntegerField(allow_null=True, help_text="The item the text is now (new or known).")
    item_created = serializers.BooleanField()
    split = serializers.CharField(allow_null=True)


class QuantilesSerializer(serializers.Serializer):
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)


class LabelShareSerializer(serializers.Serializer):
    label = serializers.CharField()
    live = serializers.FloatField()
    test = serializers.FloatField()


class DriftFeatureSerializer(serializers.Serializer):
    name = serializers.CharField()
    psi = serializers.FloatField()
    psi_band = serializers.CharField()
    ks_statistic = serializers.FloatField()
    p_value = serializers.FloatField()
    reference_mean = serializers.FloatField()
    recent_mean = serializers.FloatField()
    drifted = serializers.BooleanField()


class DriftSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(["stable", "drifted", "not enough data"])
    text = serializers.CharField()
    n_recent = serializers.IntegerField()
    n_reference = serializers.IntegerField()
    features = DriftFeatureSerializer(many=True)


class LiveAccuracySerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Audited predictions labeled by annotators.")
    value = serializers.FloatField()
    low = serializers.FloatField()
    high = serializers.FloatField()


class MonitoringSerializer(serializers.Serializer):
    window_minutes = serializers.IntegerField()
    active_model = serializers.CharField(allow_null=True)
    requests = serializers.IntegerField()
    predictions = serializers.FloatField(help_text="Counted with the log's sampling weights.")
    requests_per_minute = serializers.FloatField()
    latency_ms = QuantilesSerializer()
    outcomes = serializers.DictField(child=serializers.FloatField())
    refusal_rate = serializers.FloatField(allow_null=True)
    abstain_rate = serializers.FloatField(allow_null=True)
    flagged_rate = serializers.FloatField(allow_null=True)
    refusal_reasons = serializers.DictField(child=serializers.FloatField())
    cache_hit_rate = serializers.FloatField(allow_null=True)
    label_distribution = LabelShareSerializer(many=True)
    drift = DriftSerializer()
    live_accuracy = LiveAccuracySerializer(allow_null=True)
    alerts = serializers.ListField(child=serializers.CharField())


class ShadowRequestSerializer(serializers.Serializer):
    model = serializers.UUIDField(
        allow_null=True, help_text="A model version of the project; null: no shadow."
    )


class ConfidenceQuantilesSerializer(serializers.Serializer):
    p10 = serializers.FloatField(allow_null=True)
    p25 = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True)
    p75 = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)


class ShadowComparisonSerializer(serializers.Serializer):
    window_minutes = serializers.IntegerField()
    shadow_model = serializers.CharField(allow_null=True)
    compared = serializers.IntegerField(help_text="Logged predictions both models answered.")
    agreement = serializers.FloatField(allow_null=True, help_text="Share with the same label.")
    active_confidence = ConfidenceQuantilesSerializer()
    shadow_confidence = ConfidenceQuantilesSerializer()
    with_feedback = serializers.IntegerField()
    active_right = serializers.IntegerField()
    shadow_right = serializers.IntegerField()
    shadow_judged = serializers.IntegerField(
        help_text="Feedback that names the right label (or confirms the active one): the shadow's base."
    )


class CanaryRequestSerializer(serializers.Serializer):
    model = serializers.UUIDField(
        allow_null=True, help_text="A ready model version of the project; null: rollback."
    )
    share = serializers.FloatField(min_value=0.0, max_value=1.0, help_text="Share of clients, 0 to 1.")


class ServingSwitchSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["shadow", "canary", "rollback", "activated"])
    model = serializers.CharField(allow_null=True)
    share = serializers.FloatField(allow_null=True)
    user = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()


class CanaryStateSerializer(serializers.Serializer):
    model = serializers.CharField(allow_null=True)
    share = serializers.FloatField()
    switches = ServingSwitchSerializer(many=True, help_text="The last 50 switches, newest first.")


class BatchPredictionRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        required=False, allow_empty_file=True, help_text="A CSV or JSONL file with a text column (and an id)."
    )
    unlabeled = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Predict the project's unlabeled pool items instead of a file.",
    )
    format = serializers.ChoiceField(
        choices=["csv", "jsonl"], default="csv", help_text="The output file's format."
    )
