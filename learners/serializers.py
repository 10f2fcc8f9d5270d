from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from labeling.api_responses import ErrorSerializer
from learners.models import Job, ModelVersion
from learners.simulation_jobs import SIMULATION_DEFAULTS
from siftml.names import STRATEGIES


def _free_form(help_text: str, required: bool = True) -> serializers.DictField:
    """A JSON object whose inner shape the schema leaves open."""
    return serializers.DictField(child=serializers.JSONField(), required=required, help_text=help_text)


class JobSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)
    result = _free_form("What the job produced, by kind (a simulation's report, a retrain's model id).")

    class Meta:
        model = Job
        fields = [
            "id",
            "project",
            "kind",
            "state",
            "progress",
            "message",
            "error",
            "result",
            "created_at",
            "started_at",
            "finished_at",
        ]


class StoppingSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(
        choices=["unknown", "keep_labeling", "stop", "stable", "flat", "unclear"],
        help_text="stop: the slope's best case is below rule.min_gain and the stop-set predictions "
        "were stable (kappa >= rule.kappa_stable) rule.stable_rounds times in a row.",
    )
    sentence = serializers.CharField(help_text="The guidance in plain words, numbers included.")
    slope = serializers.DictField(
        child=serializers.JSONField(),
        allow_null=True,
        help_text="labels, n, gain, low, high: macro-F1 change over the last labels on the report part, "
        "with its paired BCa interval; null without an older model or report items.",
    )
    agreement = serializers.DictField(
        child=serializers.JSONField(),
        allow_null=True,
        help_text="n, changed, kappa: the previous model's and this one's predictions on the stop set; "
        "null without a previous model.",
    )
    stable_rounds = serializers.IntegerField()
    kappas = serializers.ListField(child=serializers.FloatField(allow_null=True))
    rule = _free_form("The thresholds of the rule (README, Stopping guidance).")


class ModelVersionSerializer(serializers.ModelSerializer):
    dataset_version = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    active = serializers.BooleanField(source="is_active")
    candidate = serializers.BooleanField(source="is_candidate", read_only=True)
    params = _free_form("The algorithm's parameters.")
    classes = serializers.ListField(child=serializers.CharField(), help_text="The labels, in column order.")
    metrics = _free_form("Headline test metrics: accuracy, macro_f1, per_class, confusion.")
    shadow = _free_form("The comparison with the model active when this one was trained, and the decision.")
    stopping = serializers.SerializerMethodField(
        help_text="Whether labeling more still pays, computed in the model's evaluate job; "
        "null until that job ran."
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "short_id",
            "created_at",
            "status",
            "active",
            "algorithm",
            "params",
            "classes",
            "train_size",
            "test_size",
            "metrics",
            "dataset_version",
            "sha256",
            "training_seconds",
            "activated_at",
            "candidate",
            "shadow",
            "stopping",
        ]

    @extend_schema_field(StoppingSerializer(allow_null=True))
    def get_stopping(self, obj: ModelVersion) -> dict | None:
        return (obj.evaluation or {}).get("stopping")


class SimulationSerializer(serializers.Serializer):
    strategies = serializers.ListField(
        child=serializers.ChoiceField(choices=STRATEGIES),
        min_length=1,
        default=lambda: list(SIMULATION_DEFAULTS["strategies"]),
    )
    seeds = serializers.IntegerField(min_value=1, max_value=5, default=SIMULATION_DEFAULTS["seeds"])
    batch = serializers.IntegerField(
        min_value=1,
        max_value=500,
        default=SIMULATION_DEFAULTS["batch"],
        help_text="Labels between two retrains (the project's retrain_every, replayed).",
    )
    budget = serializers.IntegerField(min_value=1, max_value=20_000, default=SIMULATION_DEFAULTS["budget"])
    target = serializers.FloatField(min_value=0.5, max_value=1.0, default=SIMULATION_DEFAULTS["target"])

    def validate(self, data: dict) -> dict:
        if data["budget"] < data["batch"]:
            raise serializers.ValidationError("The budget must be at least one batch.")
        return data


class JobAcceptedSerializer(serializers.Serializer):
    job = JobSerializer(help_text="Poll GET /api/v1/jobs/{id} until its state is succeeded or failed.")


class JobConflictSerializer(ErrorSerializer):
    job = JobSerializer(help_text="The job already running.")


class IntervalSerializer(serializers.Serializer):
    value = serializers.FloatField()
    low = serializers.FloatField(help_text="Bootstrap interval, lower end.")
    high = serializers.FloatField(help_text="Bootstrap interval, upper end.")


class PerClassSerializer(serializers.Serializer):
    precision = IntervalSerializer()
    recall = IntervalSerializer()
    f1 = IntervalSerializer()
    support = serializers.IntegerField()


class EvaluationSerializer(serializers.Serializer):
    """The model's report on the test split; a model with no labeled test item has only `n`."""

    n = serializers.IntegerField(help_text="Labeled test items scored.")
    train_size = serializers.IntegerField(required=False)
    labels = serializers.ListField(child=serializers.CharField(), required=False)
    accuracy = IntervalSerializer(required=False)
    macro_f1 = IntervalSerializer(required=False)
    per_class = serializers.DictField(child=PerClassSerializer(), required=False, help_text="By label.")
    confusion = inline_serializer(
        "Confusion",
        {
            "labels": serializers.ListField(child=serializers.CharField()),
            "matrix": serializers.ListField(child=serializers.ListField(child=serializers.IntegerField())),
        },
        required=False,
        help_text="matrix[true][predicted], rows and columns in `labels` order.",
    )
    roc = _free_form("One-vs-rest curves by label and macro_auc.", required=False)
    calibration = _free_form("Reliability bins, ece, brier.", required=False)
    top = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField(child=serializers.JSONField())),
        required=False,
        help_text="confident_correct, confident_wrong, uncertain: at most k entries each.",
    )
    features = _free_form("Top features per label.", required=False)
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


class LearningCurvePointSerializer(serializers.Serializer):
    model = serializers.UUIDField()
    short_id = serializers.CharField()
    train_size = serializers.IntegerField()
    test_size = serializers.IntegerField()
    macro_f1 = serializers.FloatField()
    low = serializers.FloatField()
    high = serializers.FloatField()
    active = serializers.BooleanField()


class ModelEvaluationSerializer(serializers.Serializer):
    model = ModelVersionSerializer()
    evaluation = EvaluationSerializer()
    shadow = _free_form("The comparison with the model active when it was trained.")
    learning_curve = LearningCurvePointSerializer(many=True)
