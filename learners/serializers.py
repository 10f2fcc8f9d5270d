from rest_framework import serializers

from learners import simulation
from learners.models import Job, ModelVersion
from learners.simulation_jobs import SIMULATION_DEFAULTS


class JobSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)

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


class ModelVersionSerializer(serializers.ModelSerializer):
    dataset_version = serializers.SlugRelatedField(slug_field="number", read_only=True)
    active = serializers.BooleanField(source="is_active")
    candidate = serializers.BooleanField(source="is_candidate", read_only=True)

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
        ]


class SimulationSerializer(serializers.Serializer):
    strategies = serializers.ListField(
        child=serializers.ChoiceField(choices=simulation.STRATEGIES),
        min_length=1,
        default=lambda: list(SIMULATION_DEFAULTS["strategies"]),
    )
    seeds = serializers.IntegerField(min_value=1, max_value=5, default=SIMULATION_DEFAULTS["seeds"])
    batch = serializers.IntegerField(min_value=1, max_value=500, default=SIMULATION_DEFAULTS["batch"])
    budget = serializers.IntegerField(min_value=1, max_value=20_000, default=SIMULATION_DEFAULTS["budget"])
    target = serializers.FloatField(min_value=0.5, max_value=1.0, default=SIMULATION_DEFAULTS["target"])

    def validate(self, data: dict) -> dict:
        if data["budget"] < data["batch"]:
            raise serializers.ValidationError("The budget must be at least one batch.")
        return data
