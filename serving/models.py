"""Service tokens, each project's serving settings, the prediction log and the feedback on it."""

import hashlib
import secrets
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from labeling.models import Item, Label, Project

TOKEN_PREFIX = "svc_"


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ServiceToken(models.Model):
    """A project's credential for programs: it may predict and send feedback, nothing else.

    Only the sha256 of the key is stored; the key itself is shown once, when created.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="service_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    # The key's first characters, so that a person can tell two tokens apart.
    prefix = models.CharField(max_length=12)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.project}"

    @classmethod
    def issue(cls, project: Project, name: str, user) -> tuple["ServiceToken", str]:
        """Create a token; return it with its key (never stored, never shown again)."""
        key = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            project=project, name=name, key_hash=hash_token(key), prefix=key[:10], created_by=user
        )
        return token, key


class ServingSettings(models.Model):
    """How a project's model answers live requests (the serving page edits it)."""

    class OutOfDistribution(models.TextChoices):
        REFUSE = "refuse", "Refuse the text"
        FLAG = "flag", "Answer, and flag the answer"

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="serving_settings")
    confidence_threshold = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Below this confidence the answer is 'abstain' (the best guess is shown separately).",
    )
    ood_threshold = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A text whose share of words unknown to the model is above this is out of distribution.",
    )
    ood_action = models.CharField(max_length=10, choices=OutOfDistribution.choices, default="refuse")
    audit_share = models.FloatField(
        default=0.01,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="This share of live predictions becomes items that annotators label without a "
        "suggestion: the sample that measures live accuracy.",
    )
    top_k = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    shadow_model = models.ForeignKey(
        "learners.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A candidate that answers live traffic alongside the active model; its answers are "
        "stored (ShadowPrediction) and never returned.",
    )
    canary_model = models.ForeignKey(
        "learners.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A candidate that answers this share of clients (by a hash of their client key).",
    )
    canary_share = models.FloatField(default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])

    def __str__(self) -> str:
        return f"serving settings of {self.project}"

    @classmethod
    def of(cls, project_id: int) -> "ServingSettings":
        """The project's settings, kept a few seconds per process (serving.recent)."""
        from serving import recent

        return recent.serving_settings.get_or_read(project_id, lambda: cls.stored(project_id))

    @classmethod
    def stored(cls, project_id: int) -> "ServingSettings":
        """Read now, for editing (a form changes its instance: never the kept copy)."""
        found = cls.objects.filter(project_id=project_id).first()
        return found if found is not None else cls(project_id=project_id)


class Outcome(models.TextChoices):
    LABEL = "label"
    ABSTAIN = "abstain"
    REFUSED = "refused"


class PredictionLog(models.Model):
    """One answer of the prediction API, traceable to the model and the data behind it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    # Plain references: the log outlives the model versions it names.
    model_ref = models.CharField(max_length=64)
    dataset_version = models.PositiveIntegerField(null=True)
    request_id = models.UUIDField()
    batch_size = models.PositiveIntegerField()
    latency_ms = models.FloatField(help_text="Server-side time of the whole request.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=40, blank=True)
    label = models.CharField(max_length=100, blank=True, help_text="The answer, or the best guess.")
    confidence = models.FloatField(null=True)
    flagged = models.BooleanField(default=False, help_text="Answered although out of distribution.")
    cached = models.BooleanField(default=False)
    text = models.TextField(
        blank=True, help_text="Kept for feedback and audits; empty when the input checks refused it."
    )
    text_length = models.PositiveIntegerField(default=0)
    unknown_rate = models.FloatField(null=True)
    client_key = models.CharField(max_length=100, blank=True)
    # Above SIFT_PREDICTION_LOG_RATE a share of predictions is logged, each counting for 1/share.
    weight = models.FloatField(default=1.0)
    audit_item = models.ForeignKey(Item, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["project", "created_at"], name="predictionlog_project_time")]

    def __str__(self) -> str:
        return f"{self.outcome} {self.label or self.reason} by {self.model_ref[:8]}"


class Feedback(models.Model):
    """A client's word on one prediction: a signal for labeling, never a gold label."""

    prediction = models.OneToOneField(PredictionLog, on_delete=models.CASCADE, related_name="feedback")
    correct = models.BooleanField()
    label = models.ForeignKey(Label, null=True, on_delete=models.SET_NULL, related_name="+")
    item = models.ForeignKey(Item, null=True, on_delete=models.SET_NULL, related_name="+")
    token = models.ForeignKey(ServiceToken, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"feedback on {self.prediction_id}: {'right' if self.correct else 'wrong'}"


class ShadowPrediction(models.Model):
    """The shadow model's answer to a logged prediction: kept for comparison, never returned."""

    prediction = models.OneToOneField(PredictionLog, on_delete=models.CASCADE, related_name="shadow")
    model_ref = models.CharField(max_length=64)
    label = models.CharField(max_length=100, help_text="The shadow model's most probable label.")
    confidence = models.FloatField()
    abstain = models.BooleanField(help_text="Below the project's confidence threshold.")

    def __str__(self) -> str:
        return f"shadow {self.label} by {self.model_ref[:8]} on {self.prediction_id}"


class ServingSwitch(models.Model):
    """Every change of which model answers: shadow and canary set or removed, activations."""

    class Kind(models.TextChoices):
        SHADOW = "shadow"
        CANARY = "canary"
        ROLLBACK = "rollback"
        ACTIVATED = "activated"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    model_ref = models.CharField(max_length=64, blank=True, help_text="Empty: no model (shadow removed).")
    share = models.FloatField(null=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.model_ref[:8]} in {self.project}"
