"""Projects, items and the append-only record of who labeled what.

Annotations are never updated or deleted: a correction or an undo is a new row, so any
past state of the labels can be rebuilt (see labeling/resolution.py). `Item.label` and
`Item.label_count` are the resolved state of an item's annotations, kept in the same
transaction as every new annotation so that the queue and the stats can filter on them.
"""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.utils import timezone


def new_seed() -> int:
    return secrets.randbelow(2**31)


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    guidelines = models.TextField(blank=True)
    test_fraction = models.FloatField(
        default=0.2, validators=[MinValueValidator(0.0), MaxValueValidator(0.9)]
    )
    # Labeled test items to aim for; while fewer are labeled, a `test_fraction` share of
    # next-item requests serves a random unlabeled test item instead of a ranked one. 100
    # puts a macro-F1 within roughly +-0.1 (95%); 200 was out of reach of small projects,
    # and a project with fewer test items simply labels all of them.
    test_target = models.PositiveIntegerField(
        default=100,
        help_text="Labeled test items to aim for (about 100 judge a model to within roughly ±0.1); "
        "a project with fewer test items labels all of them.",
    )
    seed = models.BigIntegerField(default=new_seed)
    retrain_every = models.PositiveIntegerField(
        default=50, help_text="Start a retrain after this many new labels (0: never)."
    )
    overlap = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    # Ranker name -> share of each batch of the queue; empty: Sift's default mix.
    strategy_weights = models.JSONField(default=dict, blank=True)
    # Let a bandit shift the weights toward the rankers whose picks the model gets wrong.
    adaptive_mix = models.BooleanField(default=False)
    # Until every label has this many labeled pool items, the queue favours novelty.
    cold_start_min_per_label = models.PositiveSmallIntegerField(default=2)
    # Suggestions below this confidence are not shown: a weak guess anchors more than it helps.
    suggestion_threshold = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    # Test items never show a suggestion; withholding it on this share of pool items too
    # keeps test items indistinguishable, and measures how annotators label unaided.
    suggestion_withhold_share = models.FloatField(
        default=0.1, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    # A retrained model waits as a candidate only when even the top of the 95% paired
    # interval of (its test macro-F1 - the active model's) is more than this below zero
    # (learners.lifecycle.compare_with_active; siftml.promotion_rule says it in words).
    promotion_tolerance = models.FloatField(
        default=0.02,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A new model stays a candidate only if even the best case of the 95% interval of its "
        "macro-F1 minus the active model's is more than this below zero.",
    )
    active_ranking = models.ForeignKey(
        "Ranking", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="projects")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=100)
    key = models.CharField(max_length=1, blank=True, help_text="Keyboard shortcut on the labeling page.")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="label_unique_name"),
            models.UniqueConstraint(
                fields=["project", "key"], condition=~models.Q(key=""), name="label_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin"
        ANNOTATOR = "annotator"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class ImportBatch(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField()
    pool = models.PositiveIntegerField()
    test = models.PositiveIntegerField()
    labeled = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.rows} rows)"


class Split(models.TextChoices):
    POOL = "pool"
    TEST = "test"


class Origin(models.TextChoices):
    HUMAN = "human"
    IMPORT = "import"
    ADJUDICATION = "adjudication"
    # Items only (never a label): a text that came back from the prediction API, with a
    # client's feedback on it, or drawn into the audit sample of live predictions.
    FEEDBACK = "feedback"
    AUDIT = "audit"
    # An admin's label given to many items at once from the items browser (a BulkAction):
    # it votes as that admin, and a dataset version can tell it apart from a label given
    # while reading the item.
    BULK = "bulk"


class Item(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=255)
    text = models.TextField()
    meta = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    # Decided once at import from hash(seed, id); never changes (labeling/splits.py).
    split = models.CharField(max_length=4, choices=Split.choices)
    # A second hash in [0, 1): random serving order that needs no ORDER BY RANDOM().
    rand_key = models.FloatField()
    import_batch = models.ForeignKey(ImportBatch, null=True, on_delete=models.SET_NULL, related_name="items")
    # Where the text came from: an import, or the prediction API (serving/feedback.py).
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.IMPORT)
    label = models.ForeignKey(Label, null=True, on_delete=models.PROTECT, related_name="+")
    label_origin = models.CharField(max_length=12, choices=Origin.choices, blank=True)
    label_count = models.PositiveSmallIntegerField(default=0)
    # Annotators' live labels disagree and no adjudication has decided: the item waits in
    # the adjudication queue. Kept with the resolved label, in the same transaction.
    conflict = models.BooleanField(default=False)
    # Live votes name more than one label, whether or not an adjudication has decided
    # since (the items browser's "annotators disagree"). Kept with the resolved label.
    disputed = models.BooleanField(default=False)
    # When its latest annotation was recorded (the items browser's "recent" sort).
    last_labeled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="item_unique_id"),
        ]
        indexes = [
            models.Index(fields=["project"], condition=models.Q(conflict=True), name="item_conflict"),
            models.Index(fields=["project"], condition=models.Q(disputed=True), name="item_disputed"),
            # The "recent" sort walks this index page by page (keyset on (time, id)).
            models.Index(
                F("project"),
                F("last_labeled_at").desc(),
                F("id").desc(),
                condition=models.Q(last_labeled_at__isnull=False),
                name="item_recent",
            ),
            models.Index(fields=["project", "split", "label_count"], name="item_split_count"),
            models.Index(fields=["project", "split", "rand_key"], name="item_split_rand"),
            models.Index(fields=["project", "content_hash"], name="item_content_hash"),
            # The labeled test items, counted on /next until the project has test_target.
            models.Index(
                fields=["project"],
                condition=models.Q(split="test", label__isnull=False),
                name="item_labeled_test",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.text[:40]}"


class LabelTally(models.Model):
    """Counts kept in the same transaction as the writes, so hot paths never COUNT(*) items.

    One row per (project, split, label): `items` is how many of the split's items resolve
    to `label`, `annotations` how many annotations gave `label` to the split's items. The
    row with no label counts all of the split's items (only imports change it) and the
    undo annotations. labeling/counters.py keeps them; `manage.py check_counters`
    recomputes them from the rows and compares.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tallies")
    split = models.CharField(max_length=4, choices=Split.choices)
    label = models.ForeignKey(Label, null=True, on_delete=models.CASCADE, related_name="+")
    items = models.BigIntegerField(default=0)
    annotations = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "split", "label"],
                condition=models.Q(label__isnull=False),
                name="tally_unique_label",
            ),
            models.UniqueConstraint(
                fields=["project", "split"], condition=models.Q(label__isnull=True), name="tally_unique_split"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.project_id} {self.split} {self.label_id}: {self.items} items, {self.annotations} labels"
        )


class Annotation(models.Model):
    """One label given to one item by one person (or an import). Append-only."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    # Null label: the annotator took their label back (undo); the row still records it.
    label = models.ForeignKey(Label, null=True, on_delete=models.PROTECT, related_name="+")
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.HUMAN)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Sent by the page so that a retried or double-clicked submit creates one row.
    client_id = models.UUIDField(null=True, blank=True)
    suggested_label = models.ForeignKey(
        Label, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    suggestion_confidence = models.FloatField(null=True, blank=True)
    model_ref = models.CharField(max_length=64, blank=True)
    # Which ranker served the item and what the model guessed: the adaptive mix's reward.
    strategy = models.CharField(max_length=40, blank=True)
    predicted_label = models.ForeignKey(
        Label, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The bulk action that wrote it (origin "bulk"): reverted as one.
    bulk_action = models.ForeignKey(
        "BulkAction", null=True, blank=True, on_delete=models.PROTECT, related_name="annotations"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="annotation_unique_client_id",
            ),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="annotation_user_time")]

    def __str__(self) -> str:
        return f"{self.item_id} -> {self.label_id} by {self.user_id}"


class Skip(models.Model):
    """An annotator passed on an item (it returns later) or flagged it for an admin."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="skips")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    flagged = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    # A flag is open until an admin resolves it; meanwhile nobody is served the item.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "created_at"], name="skip_user_time"),
            models.Index(
                fields=["item"], condition=models.Q(flagged=True, resolved_at=None), name="skip_open_flag"
            ),
        ]

    def __str__(self) -> str:
        return f"{'flag' if self.flagged else 'skip'} of {self.item_id} by {self.user_id}"


class Lease(models.Model):
    """An item held by one annotator until `expires_at`; nobody else is served it."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="leases")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    # Why the item was served, and the suggestion shown with it (null when withheld),
    # copied onto the annotation when the label arrives.
    strategy = models.CharField(max_length=40, default="random")
    score = models.FloatField(null=True)
    model_ref = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    # The model's guess, shown or not; the label that arrives tells whether it was wrong.
    predicted_label = models.ForeignKey(Label, null=True, on_delete=models.CASCADE, related_name="+")
    suggested_label = models.ForeignKey(Label, null=True, on_delete=models.CASCADE, related_name="+")
    suggestion_confidence = models.FloatField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "user"], name="lease_unique"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="lease_expiry")]

    def __str__(self) -> str:
        return f"{self.item_id} held by {self.user_id} until {self.expires_at:%H:%M:%S}"


class Ranking(models.Model):
    """One retrain's ordering of the unlabeled pool; the project points at the active one.

    A new ranking is written beside the old one and swapped in by moving the project's
    pointer, so annotators are served from the old ranking until the new one is whole.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rankings")
    # The learners.ModelVersion id that scored it (a plain reference: labeling does not
    # import learners).
    model_ref = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"ranking {self.pk} of {self.project} by {self.model_ref or 'nobody'}"


class QueueEntry(models.Model):
    ranking = models.ForeignKey(Ranking, on_delete=models.CASCADE, related_name="entries")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="queue_entries")
    # Higher is served first. Floats, so that items scored on arrival can be slotted in
    # between the ones a retrain ranked.
    priority = models.FloatField()
    strategy = models.CharField(max_length=40)
    score = models.FloatField()
    suggested_label = models.ForeignKey(Label, null=True, on_delete=models.CASCADE, related_name="+")
    confidence = models.FloatField(null=True)
    reason = models.CharField(max_length=300, blank=True)  # in plain words, for the page

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ranking", "item"], name="queue_unique_item"),
        ]
        indexes = [
            models.Index(fields=["ranking", "-priority"], name="queue_priority"),
            # The items browser's "priority" sort: a keyset walk on (priority, item id).
            models.Index(F("ranking"), F("priority").desc(), F("item").desc(), name="queue_priority_item"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} at {self.priority:.3f} ({self.strategy} {self.score:.3f})"


class ItemPrediction(models.Model):
    """A ranking's model's guess for a labeled pool item (the items browser's "model disagrees").

    Queue entries hold the guesses for the unlabeled items a ranking queued; a retrain
    writes these for the labeled pool beside them (learners/ranking.py), and they go with
    their ranking. Test items get none: their predictions belong to the evaluation.
    """

    ranking = models.ForeignKey(Ranking, on_delete=models.CASCADE, related_name="predictions")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="predictions")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="+")
    confidence = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ranking", "item"], name="prediction_unique_item"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} -> {self.label_id} ({self.confidence:.2f}) in ranking {self.ranking_id}"


class LabelSuspect(models.Model):
    """A pool label that a model's out-of-fold prediction strongly contradicts.

    learners.lifecycle writes them with the model's cross-validation (the data-quality
    page's suspects); the items browser's "likely label error" reads those of the active
    ranking's model. `model_ref` is the learners.ModelVersion id, as on Ranking.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    model_ref = models.CharField(max_length=64)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    given = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="+")
    predicted = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="+")
    confidence = models.FloatField()
    p_given = models.FloatField(help_text="The out-of-fold probability of the given label.")

    class Meta:
        indexes = [models.Index(fields=["project", "model_ref", "item"], name="suspect_model_item")]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.given_id} suspected, {self.predicted_id} predicted"


class DatasetVersion(models.Model):
    """An immutable snapshot of a project's labels.

    Annotations are append-only, so a snapshot is just the highest annotation id it
    includes plus the rule that resolves several annotations of one item into one label;
    its export can be rebuilt byte for byte at any time and hashes to `sha256`.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, on_delete=models.SET_NULL, related_name="+")
    max_annotation_id = models.BigIntegerField()
    rule = models.CharField(max_length=60, default="adjudicated>majority>latest")
    counts = models.JSONField(default=dict)
    sha256 = models.CharField(max_length=64)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="version_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.project} v{self.number}"


class Collection(models.Model):
    """A named set of items an admin gathered from the items browser (e.g. "hard cases")."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=100)
    items = models.ManyToManyField(Item, related_name="collections", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="collection_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.project})"


class BulkAction(models.Model):
    """One bulk action of the items browser: what, by whom, on how many items; labels revert as one."""

    class Kind(models.TextChoices):
        FLAG = "flag"
        LABEL = "label"
        SKIP = "skip"
        COLLECT = "collect"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="bulk_actions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    include_test = models.BooleanField(default=False, help_text="The admin chose to include test items.")
    selected = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    reverted_at = models.DateTimeField(null=True, blank=True)
    reverted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.kind} of {self.changed} items in {self.project}"
