"""The promotion sentence on the Models page states the rule `compare_with_active` applies."""

from pathlib import Path

import pytest
from django.conf import settings
from django.utils.html import escape

from labeling import services as labeling_services
from learners import services
from learners.forms import PromotionToleranceForm
from learners.models import ModelVersion
from siftml import evaluation
from siftml.promotion_rule import describe_promotion_rule
from tests.factories import add_member, csv_bytes, make_project

WORDS = {"positive": ["great", "lovely", "superb", "kind"], "negative": ["awful", "rude", "slow", "dirty"]}


@pytest.fixture
def lab(owner, annotator):
    project = make_project(owner, name="Promotion", test_fraction=0.4, test_target=0, seed=4)
    add_member(project, annotator)
    rows = []
    for i in range(80):
        label = "positive" if i % 2 == 0 else "negative"
        rows.append({"id": f"r{i}", "text": f"{WORDS[label][i % 4]} visit {i}", "label": label})
    labeling_services.import_items(project, owner, csv_bytes(rows), "rows.csv")
    return project


def _retrain(project) -> ModelVersion:
    job = services.start_retrain(project, enqueue=False)
    return services.run_retrain(job)


def _with_difference(monkeypatch, point: float, high: float) -> None:
    """Make the paired comparison report a known point estimate and interval top."""

    def fixed(*args, **kwargs) -> dict:
        return {
            "a": 0.64,
            "b": 0.64 + point,
            "difference": {"value": point, "low": point - 0.1, "high": high},
        }

    monkeypatch.setattr(evaluation, "paired_difference", fixed)


def test_models_page_states_the_interval_rule_with_the_projects_tolerance(client, lab, annotator):
    lab.promotion_tolerance = 0.035
    lab.save()
    for user in (lab.created_by, annotator):
        client.force_login(user)
        page = client.get(f"/projects/{lab.slug}/models/").content.decode()
        assert "lower by more than" not in page
        assert f"{evaluation.CONFIDENCE:.0%} paired-bootstrap interval" in page
        assert "more than 0.035 below zero" in page


@pytest.mark.parametrize(
    ("point", "high", "promoted"),
    [
        # 6 points lower (the 58% against 64%), but the interval reaches above -0.02:
        # the old sentence said "kept"; the rule promotes it, and the sentence now says so.
        (-0.06, 0.01, True),
        (-0.06, -0.019, True),
        # Even the best case is more than the tolerance below zero: kept as a candidate.
        (-0.06, -0.021, False),
        (-0.01, -0.03, False),
    ],
)
def test_the_sentence_predicts_what_the_rule_does(monkeypatch, lab, point, high, promoted):
    lab.promotion_tolerance = 0.02
    lab.save()
    _retrain(lab)
    _with_difference(monkeypatch, point, high)
    second = _retrain(lab)
    # The sentence's rule, applied to the same numbers: kept only when high < -tolerance.
    assert (not high < -lab.promotion_tolerance) is promoted
    assert second.shadow["promoted"] is promoted
    assert second.is_active is promoted
    assert "more than 0.020 below zero" in describe_promotion_rule(lab.promotion_tolerance)


def test_the_saved_message_and_the_help_text_say_the_same_rule(client, lab):
    client.force_login(lab.created_by)
    response = client.post(f"/projects/{lab.slug}/promotion", {"promotion_tolerance": "0.05"}, follow=True)
    assert escape(describe_promotion_rule(0.05)) in response.content.decode()
    assert PromotionToleranceForm().fields["promotion_tolerance"].help_text == describe_promotion_rule()
    templates = Path(settings.BASE_DIR) / "templates"
    for path in templates.rglob("*.html"):
        assert "lower by more than" not in path.read_text(), path
