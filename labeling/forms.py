"""Validation of the pages' form input (the API's serializers reuse the shared rules)."""

import math

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from labeling.importing import excerpt
from labeling.models import Membership, Project

MAX_LABELS = 500
TEST_FRACTION_HELP = (
    "Share of imported items (0 to 0.9) kept apart as the test set, which judges every model on items "
    "no strategy picked: 0.2 keeps about one in five. Decided per item at import, never changed, "
    "and fixed once the first file is imported."
)
MAX_LABEL_LENGTH = 100
# Guidelines are shown on every labeling page; 100,000 characters is a long handbook.
MAX_GUIDELINES_LENGTH = 100_000


def clean_guidelines(value: str) -> str:
    """Refuse guidelines beyond the limit, saying how long they are (never echoing them)."""
    if len(value) > MAX_GUIDELINES_LENGTH:
        raise ValidationError(
            f"Guidelines are at most {MAX_GUIDELINES_LENGTH:,} characters (these have {len(value):,})."
        )
    return value


def clean_label_names(names: list[str]) -> list[str]:
    """Strip label names and check there are at least two, distinct and non-empty."""
    cleaned = [name.strip() for name in names]
    if any(not name for name in cleaned):
        raise ValidationError("Label names cannot be empty.")
    if any(len(name) > MAX_LABEL_LENGTH for name in cleaned):
        raise ValidationError(f"Label names are at most {MAX_LABEL_LENGTH} characters.")
    if len(cleaned) < 2:
        raise ValidationError("A project needs at least two labels.")
    if len(cleaned) > MAX_LABELS:
        raise ValidationError(f"A project has at most {MAX_LABELS} labels.")
    repeated = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if repeated:
        # Names are at most MAX_LABEL_LENGTH here; ten of them keep the message short.
        raise ValidationError(f"Labels repeat: {', '.join(repeated[:10])}.")
    return cleaned


def clean_project_name(name: str) -> str:
    """Strip the name and refuse one another project already has (ignoring case).

    Two projects of one name would be told apart only by a "-2" in their address.
    """
    name = name.strip()
    if not name:
        raise ValidationError("The name cannot be empty.")
    taken = Project.objects.filter(name__iexact=name).values_list("name", flat=True).first()
    if taken is not None:
        raise ValidationError(f"There is already a project named {taken!r}; choose another name.")
    return name


def _clean_guidelines_field(form: forms.BaseForm) -> str:
    value = form.cleaned_data["guidelines"]
    try:
        return clean_guidelines(value)
    except ValidationError:
        # The page shows the form again: cut at the limit, not the whole oversized text back.
        form.data = form.data.copy()
        form.data["guidelines"] = value[:MAX_GUIDELINES_LENGTH]
        raise


class ProjectForm(forms.ModelForm):
    labels = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), help_text="One label per line.")
    annotators = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Who labels in this project; more can be added on the project page later.",
    )

    class Meta:
        model = Project
        fields = ["name", "labels", "test_fraction", "guidelines", "retrain_every"]
        help_texts = {
            "test_fraction": TEST_FRACTION_HELP,
            "guidelines": "What annotators read beside every item; blank lines start new paragraphs.",
        }

    def clean_name(self) -> str:
        return clean_project_name(self.cleaned_data["name"])

    def clean_labels(self) -> list[str]:
        return clean_label_names([n for n in self.cleaned_data["labels"].splitlines() if n.strip()])

    def clean_guidelines(self) -> str:
        return _clean_guidelines_field(self)


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV or JSONL with a 'text' column; optional 'id' and 'label'.")


class MemberForm(forms.Form):
    username = forms.CharField()
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR)

    def clean_username(self):
        name = self.cleaned_data["username"]
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise ValidationError(f"There is no active user {excerpt(name)}.")
        return user


def clean_strategy_weights(value: object) -> dict[str, float]:
    """Check a JSON object of ranker name -> non-negative weight; {} means the default mix."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError(
            "Strategy weights must be a JSON object of ranker name to weight, "
            'e.g. {"margin": 0.8, "random": 0.2}.'
        )
    for name, weight in value.items():
        if name not in settings.SIFT_RANKERS:
            known = ", ".join(settings.SIFT_RANKERS)
            raise ValidationError(f"{name!r} is not a ranker; the rankers are: {known}.")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
            raise ValidationError(f"The weight of {name!r} must be a number, not {weight!r}.")
        if weight < 0:
            raise ValidationError(f"The weight of {name!r} cannot be negative ({weight:g}).")
    if value and not any(weight > 0 for weight in value.values()):
        raise ValidationError("At least one strategy weight must be above 0.")
    return {name: float(weight) for name, weight in value.items()}


class ProjectSettingsForm(forms.Form):
    """The project page's settings form; the same rules as PATCH /api/v1/projects/{id}."""

    overlap = forms.IntegerField(
        min_value=1, max_value=10, help_text="How many different annotators label each item."
    )
    retrain_every = forms.IntegerField(
        min_value=0, help_text="Retrain after this many new labels (0: never)."
    )
    test_fraction = forms.FloatField(
        min_value=0.0,
        max_value=0.9,
        help_text=TEST_FRACTION_HELP,
    )
    test_target = forms.IntegerField(min_value=0, help_text=Project._meta.get_field("test_target").help_text)
    suggestion_threshold = forms.FloatField(
        min_value=0.0, max_value=1.0, help_text="Hide suggestions below this confidence (0 to 1)."
    )
    suggestion_withhold_share = forms.FloatField(
        min_value=0.0, max_value=1.0, help_text="Share of pool items labeled without a suggestion (0 to 1)."
    )
    strategy_weights = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text='Ranker name to weight, e.g. {"margin": 0.8, "random": 0.2}; empty for the default.',
    )
    adaptive_mix = forms.BooleanField(
        required=False,
        help_text="Let a bandit shift the weights toward the rankers that find the model's mistakes.",
    )
    cold_start_min_per_label = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=50,
        help_text="Until every label has this many labeled items, favour novel items.",
    )
    guidelines = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args: object, project: Project, **kwargs: object):
        initial = {name: getattr(project, name) for name in self.base_fields}
        super().__init__(*args, initial=initial, **kwargs)
        self.project = project
        if project.items.exists():
            self.fields["test_fraction"].widget.attrs["readonly"] = True
            self.fields["test_fraction"].help_text = "Fixed: the imported items were split with it."

    def clean_strategy_weights(self) -> dict[str, float]:
        return clean_strategy_weights(self.cleaned_data["strategy_weights"])

    def clean_guidelines(self) -> str:
        return _clean_guidelines_field(self)

    def clean_cold_start_min_per_label(self) -> int:
        value = self.cleaned_data["cold_start_min_per_label"]
        return self.project.cold_start_min_per_label if value is None else value

    def changes(self) -> dict[str, object]:
        """The settings whose submitted value differs from the project's."""
        return {
            name: value for name, value in self.cleaned_data.items() if getattr(self.project, name) != value
        }


class AdjudicationForm(forms.Form):
    """An admin's decision on one item: a label, or none (a flag: back to the queue)."""

    item = forms.IntegerField(min_value=1)
    label = forms.ModelChoiceField(queryset=None, to_field_name="name", required=False)

    def __init__(self, *args: object, project: Project, **kwargs: object):
        super().__init__(*args, **kwargs)
        self.fields["label"].queryset = project.labels.all()


class SnapshotForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Why this snapshot, e.g. 'before relabeling refunds'"}),
    )


class DiffForm(forms.Form):
    a = forms.IntegerField(min_value=1, label="from version")
    b = forms.IntegerField(min_value=1, label="to version")


class ItemFilterForm(forms.Form):
    """The items browser's filters and sort, from GET parameters (every view is a URL).

    Annotators get only the fields that cannot tell a test item apart: no split, no
    resolved label, no predictions, no flags or skips (labeling/item_browser.py).
    """

    SORTS = [("id", "import order"), ("recent", "most recent label"), ("length", "longest text")]
    ADMIN_SORTS = [("priority", "queue priority")]
    ADMIN_ONLY = (
        "split",
        "state",
        "label",
        "annotator",
        "predicted",
        "conf_min",
        "conf_max",
        "flagged",
        "skipped",
        "disagrees",
        "disputed",
        "suspect",
    )

    q = forms.CharField(required=False, max_length=200, label="Search words")
    phrase = forms.CharField(required=False, max_length=200, label="Exact phrase")
    split = forms.ChoiceField(required=False, choices=[("", "any split"), ("pool", "pool"), ("test", "test")])
    state = forms.ChoiceField(
        required=False, choices=[("", "labeled or not"), ("labeled", "labeled"), ("unlabeled", "unlabeled")]
    )
    label = forms.ModelChoiceField(
        queryset=None, to_field_name="name", required=False, empty_label="any label"
    )
    annotator = forms.CharField(required=False, max_length=150, help_text="Labeled by this username.")
    created_from = forms.DateField(
        required=False, label="Imported from", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, label="Imported until", widget=forms.DateInput(attrs={"type": "date"})
    )
    batch = forms.ModelChoiceField(queryset=None, required=False, empty_label="any import", label="Import")
    meta = forms.RegexField(
        regex=r"^[A-Za-z0-9_\-]{1,64}=.{0,200}$",
        required=False,
        label="Metadata key=value",
        error_messages={"invalid": "Write metadata as key=value (a key of letters, digits, _ or -)."},
    )
    predicted = forms.ModelChoiceField(
        queryset=None,
        to_field_name="name",
        required=False,
        empty_label="any prediction",
        label="Predicted label",
    )
    conf_min = forms.FloatField(required=False, min_value=0.0, max_value=1.0, label="Confidence from")
    conf_max = forms.FloatField(required=False, min_value=0.0, max_value=1.0, label="Confidence to")
    flagged = forms.BooleanField(required=False, label="Open flag")
    skipped = forms.BooleanField(required=False, label="Skipped")
    disagrees = forms.BooleanField(
        required=False,
        label="Model disagrees with the label",
        help_text="Labeled pool items whose label the active model would not give.",
    )
    disputed = forms.BooleanField(
        required=False, label="Annotators disagree", help_text="Live votes name more than one label."
    )
    suspect = forms.BooleanField(
        required=False,
        label="Likely label error",
        help_text="The data-quality page's out-of-fold suspects (pool items only).",
    )
    sort = forms.ChoiceField(required=False, choices=SORTS + ADMIN_SORTS)
    cursor = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)

    def __init__(self, *args: object, project: Project, admin: bool, **kwargs: object):
        super().__init__(*args, label_suffix="", **kwargs)
        for name in ("label", "predicted"):
            self.fields[name].queryset = project.labels.all()
        self.fields["batch"].queryset = project.imports.all()
        # Asked for but not allowed: said plainly rather than silently ignored.
        self.refused = [] if admin else [name for name in self.ADMIN_ONLY if self.data.get(name)]
        if not admin:
            for name in self.ADMIN_ONLY:
                del self.fields[name]
            self.fields["sort"].choices = self.SORTS

    def clean_annotator(self) -> object:
        username = self.cleaned_data["annotator"].strip()
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError(f"There is no user {username!r}.")
        return user

    def clean_meta(self) -> tuple[str, str] | None:
        pair = self.cleaned_data["meta"]
        if not pair:
            return None
        key, value = pair.split("=", 1)
        return key, value

    def clean(self) -> dict:
        data = super().clean()
        if self.refused:
            raise ValidationError(f"Only a project admin can filter on {', '.join(self.refused)}.")
        low, high = data.get("conf_min"), data.get("conf_max")
        if low is not None and high is not None and low > high:
            raise ValidationError("The confidence range is empty: 'from' is above 'to'.")
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            raise ValidationError("The date range is empty: 'from' is after 'until'.")
        data["sort"] = data.get("sort") or "id"
        return data
