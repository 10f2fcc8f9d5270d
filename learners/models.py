"""Model versions and the background jobs that make them."""

import uuid

from django.conf import settings
from django.db import models

from labeling.models import DatasetVersion, Project


class Job(models.Model):
    class Kind(models.TextChoices):
        RETRAIN = "retrain", "Retrain"
        # Slots newly imported items into the active ranking.
        SCORE = "score", "Score new items"
        # Re-ranks the pool with a chosen model, then makes it the active one.
        ACTIVATE = "activate", "Activate"
        # Cross-validates a new model's training labels.
        EVALUATE = "evaluate", "Evaluate"
        SIMULATE = "simulate", "Simulate"
        # Checks and writes an uploaded file too large to import within its request.
        IMPORT = "import", "Import"
        # Answers a file of texts (or the unlabeled pool) with the active model (serving.batch).
        PREDICT = "predict", "Batch predictions"

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the job's message last reached the broker (null: never, e.g. it was unreachable).
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved by the worker at least every SIFT_HEARTBEAT_SECONDS while the job runs, also inside
    # long phases: a running job whose heartbeat stops lost its worker (learners.jobs).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "kind", "state"], name="job_project_kind_state")]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        TRAINING = "training"
        READY = "ready"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    job = models.ForeignKey(Job, null=True, on_delete=models.SET_NULL, related_name="model_versions")
    dataset_version = models.ForeignKey(
        DatasetVersion, null=True, on_delete=models.PROTECT, related_name="model_versions"
    )
    algorithm = models.CharField(max_length=100)
    params = models.JSONField(default=dict)
    classes = models.JSONField(default=list, help_text="The labels the model saw, in column order.")
    train_size = models.PositiveIntegerField(default=0)
    test_size = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict)
    # The full evaluation (learners.lifecycle.evaluate_model), computed once when trained.
    evaluation = models.JSONField(default=dict, blank=True)
    # The comparison with the model that was active when this one was trained, and the
    # decision taken (learners.lifecycle.compare_with_active).
    shadow = models.JSONField(default=dict, blank=True)
    artifact = models.CharField(max_length=500, blank=True, help_text="Path under SIFT_ARTIFACT_DIR.")
    sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TRAINING)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    training_seconds = models.FloatField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(is_active=True), name="one_active_model"
            ),
        ]

    def __str__(self) -> str:
        return f"model {self.short_id} of {self.project}"

    @property
    def short_id(self) -> str:
        return self.id.hex[:8]

    @property
    def is_candidate(self) -> bool:
        """Ready, never active: the shadow comparison kept it from replacing the active model."""
        return (
            self.status == self.Status.READY
            and not self.is_active
            and self.activated_at is None
            and self.shadow.get("promoted") is False
        )


class ScoreChunk(models.Model):
    """One chunk's best candidates per ranker, written by the worker that scored it."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="score_chunks")
    index = models.PositiveIntegerField()
    payload = models.BinaryField()
    seconds = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="score_chunk_unique"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of job {self.job_id}"
