"""Validation of the pages' form input (the API's serializers reuse the shared rules)."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from labeling.models import Membership, Project

MAX_LABELS = 500


def clean_label_names(names: list[str]) -> list[str]:
    """Strip label names and check there are at least two, distinct and non-empty."""
    cleaned = [name.strip() for name in names]
    if any(not name for name in cleaned):
        raise ValidationError("Label names cannot be empty.")
    if any(len(name) > 100 for name in cleaned):
        raise ValidationError("Label names are at most 100 characters.")
    if len(cleaned) < 2:
        raise ValidationError("A project needs at least two labels.")
    if len(cleaned) > MAX_LABELS:
        raise ValidationError(f"A project has at most {MAX_LABELS} labels.")
    repeated = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if repeated:
        raise ValidationError(f"Labels repeat: {', '.join(repeated)}.")
    return cleaned


class ProjectForm(forms.ModelForm):
    labels = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), help_text="One label per line.")

    class Meta:
        model = Project
        fields = ["name", "labels", "test_fraction", "guidelines", "retrain_every", "promotion_tolerance"]

    def clean_labels(self) -> list[str]:
        return clean_label_names([n for n in self.cleaned_data["labels"].splitlines() if n.strip()])


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV or JSONL with a 'text' column; optional 'id' and 'label'.")


class MemberForm(forms.Form):
    username = forms.CharField()
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR)

    def clean_username(self):
        name = self.cleaned_data["username"]
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise ValidationError(f"There is no active user {name!r}.")
        return user


class SnapshotForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Why this snapshot, e.g. 'before relabeling refunds'"}),
    )


class DiffForm(forms.Form):
    a = forms.IntegerField(min_value=1, label="from version")
    b = forms.IntegerField(min_value=1, label="to version")
