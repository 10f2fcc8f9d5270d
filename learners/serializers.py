from rest_framework import serializers

from learners.models import Job, ModelVersion


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
