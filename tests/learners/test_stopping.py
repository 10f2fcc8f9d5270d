"""Stopping guidance: the math on known curves and predictions, then the job that stores it."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from labeling import services as labeling_services
from labeling.models import Annotation, Item, Split
from learners import services, simulation_jobs
from learners.models import ModelVersion
from siftml import stopping
from tests.factories import api_client, import_rows, make_project, make_review_rows


def test_agreement_is_the_changed_share_and_scikit_learns_kappa() -> None:
    rng = np.random.default_rng(0)
    before = rng.choice(["a", "b", "c"], 2000).astype(object)
    after = before.copy()
    after[:6] = np.where(after[:6] == "a", "b", "a")  # 6 of 2,000 changed: 0.3%
    agreement = stopping.prediction_agreement(before, after)
    assert agreement["n"] == 2000
    assert agreement["changed"] == pytest.approx(0.003)
    assert agreement["kappa"] == pytest.approx(cohen_kappa_score(before.astype(str), after.astype(str)))
    assert agreement["kappa"] > stopping.KAPPA_STABLE


def test_identical_single_label_predictions_agree_fully_and_bad_input_is_refused() -> None:
    assert stopping.prediction_agreement(["a"] * 5, ["a"] * 5)["kappa"] == 1.0
    assert stopping.prediction_agreement([], [])["changed"] is None
    with pytest.raises(ValueError, match="same items"):
        stopping.prediction_agreement(["a"], ["a", "b"])


def test_stable_rounds_count_the_latest_run_only() -> None:
    assert stopping.stable_rounds([0.995, 0.7, 0.991, 0.999]) == 2
    assert stopping.stable_rounds([0.995, 0.992, 0.999]) == 3
    assert stopping.stable_rounds([0.999, None]) == 0


def _known_curve(rng, n: int, right_before: float, right_after: float):
    """Predictions of two models on n items, right on the given shares (a known slope)."""
    y = rng.choice(["a", "b"], n).astype(object)
    flip = {"a": "b", "b": "a"}

    def predict(share: float) -> np.ndarray:
        wrong = rng.random(n) >= share
        return np.array([flip[t] if w else t for t, w in zip(y, wrong, strict=True)], dtype=object)

    return y, predict(right_before), predict(right_after)


def test_a_rising_curve_says_keep_labeling() -> None:
    y, before, after = _known_curve(np.random.default_rng(1), 600, 0.6, 0.9)
    slope = stopping.curve_slope(y, before, after, ["a", "b"], 200)
    assert slope["low"] > 0.15
    verdict = stopping.guidance(slope, None, [])
    assert verdict["verdict"] == "keep_labeling"
    assert verdict["sentence"].startswith("The last 200 labels moved macro-F1 by +0.")


def test_a_flat_curve_with_stable_predictions_says_stop_in_plain_words() -> None:
    rng = np.random.default_rng(2)
    y = rng.choice(["a", "b"], 800).astype(object)
    same = y.copy()
    same[:40] = np.where(same[:40] == "a", "b", "a")  # 95% right, both models alike
    slope = stopping.curve_slope(y, same, same, ["a", "b"], 200)
    assert slope["gain"] == 0.0
    assert slope["high"] < stopping.MIN_GAIN
    before = rng.choice(["a", "b"], 2000).astype(object)
    after = before.copy()
    after[:6] = np.where(after[:6] == "a", "b", "a")
    agreement = stopping.prediction_agreement(before, after)
    verdict = stopping.guidance(slope, agreement, [0.995, 0.996, agreement["kappa"]])
    assert verdict["verdict"] == "stop"
    assert "changed on 0.3% of them" in verdict["sentence"]
    assert verdict["sentence"].endswith("labeling more is unlikely to pay.")
    # The same flat curve while predictions still move is not yet a stop.
    assert stopping.guidance(slope, agreement, [0.9, agreement["kappa"]])["verdict"] == "flat"


def test_no_earlier_model_means_no_guidance_yet() -> None:
    assert stopping.guidance(None, None, [])["verdict"] == "unknown"


# --- the job that stores it, the API and the pages that show it ---------------------------


def _retrain(project) -> ModelVersion:
    job = services.start_retrain(project, enqueue=False)
    services.run_retrain(job)
    return ModelVersion.objects.filter(project=project).order_by("-created_at").first()


@pytest.fixture
def grown(owner):
    """A project retrained twice: 60 labels, then 60 more."""
    project = make_project(owner, name="Stopping", test_fraction=0.3, test_target=0, seed=11)
    import_rows(project, make_review_rows(200, labeled=60))
    first = _retrain(project)
    label = {lab.name: lab for lab in project.labels.all()}
    for item in Item.objects.filter(project=project, label__isnull=True).order_by("pk")[:60]:
        positive = int(item.external_id[1:]) % 2 == 0
        labeling_services.save_annotation(item, owner, label["positive" if positive else "negative"])
    second = _retrain(project)
    return project, first, second


def test_the_evaluate_job_stores_guidance_the_api_and_project_page_show(grown, owner, client):
    project, first, second = grown
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.evaluation["stopping"]["verdict"] == "unknown"  # nothing to compare with yet
    guidance = second.evaluation["stopping"]
    pool = project.items.filter(split=Split.POOL).count()
    assert guidance["agreement"]["n"] == min(pool, stopping.STOP_SET_SIZE)
    assert 0.0 <= guidance["agreement"]["changed"] <= 1.0
    assert guidance["previous"] == str(first.pk)
    assert guidance["slope"]["labels"] == second.train_size - first.train_size
    assert guidance["slope"]["low"] <= guidance["slope"]["gain"] <= guidance["slope"]["high"]
    assert f"The last {guidance['slope']['labels']} labels moved macro-F1" in guidance["sentence"]

    listed = api_client(owner).get(f"/api/v1/projects/{project.pk}/models").json()
    assert (
        next(m for m in listed if m["id"] == str(second.pk))["stopping"]["sentence"] == guidance["sentence"]
    )

    client.force_login(owner)
    page = client.get(f"/projects/{project.slug}/").content.decode()
    assert 'id="model-panel"' in page  # static/js/project.js writes the sentence from the API


def test_the_project_simulation_warns_and_counts_how_the_pool_was_picked(grown, owner, client):
    project, _, _ = grown
    human = Annotation.objects.filter(item__project=project, item__split=Split.POOL, origin="human")
    human.filter(pk__in=list(human.order_by("pk").values_list("pk", flat=True)[:10])).update(
        strategy="random"
    )
    Annotation.objects.filter(pk=human.filter(strategy="").order_by("pk").first().pk).update(
        strategy="margin"
    )
    selection = simulation_jobs.pool_selection(project)
    imported = project.items.filter(split=Split.POOL, label_origin="import").count()
    assert selection["random"] == 10
    assert selection["ranked"] == 1
    assert selection["imported"] == imported
    assert selection["total"] == project.items.filter(split=Split.POOL, label__isnull=False).count()
    assert selection["unknown"] == selection["total"] - 11 - imported

    client.force_login(owner)
    page = client.get(f"/projects/{project.slug}/models/").content.decode()
    assert "replays labels that active learning already selected" in page
    assert f"Of the {selection['total']} labeled pool items, 10 (" in page
    assert "Less than half is a random sample" in page
