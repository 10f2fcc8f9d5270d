"""Model lifecycle through the API and pages: evaluation on the test split only, shadow
comparison and promotion, activation and rollback as a scoring job, tampered artifacts."""

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from django.conf import settings
from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, roc_auc_score

from labeling import services as labeling_services
from labeling import splits
from labeling.models import Item, Lease, Split
from learners import lifecycle, reports, services, tasks
from learners.models import Job, ModelVersion
from siftml import training
from tests.factories import add_member, api_client, csv_bytes, make_project, retrain_model

POSITIVE = ["great", "lovely", "wonderful", "excellent", "happy", "superb", "kind", "fast"]
NEGATIVE = ["terrible", "awful", "rude", "dreadful", "sad", "slow", "broken", "dirty"]


def _rows(n: int, start: int = 0) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        positive = i % 2 == 0
        words = POSITIVE if positive else NEGATIVE
        text = f"{words[i % 8]} {words[(i // 2) % 8]} service, visit {i}"
        label = "positive" if positive else "negative"
        rows.append({"id": f"r{i}", "text": text, "label": label, "source": ["web", "app", "mail"][i % 3]})
    return rows


@pytest.fixture
def lab(owner, annotator):
    """A project with 160 labeled items, 40% of them in the test split."""
    project = make_project(owner, name="Lifecycle", test_fraction=0.4, test_target=0, seed=4)
    add_member(project, annotator)
    labeling_services.import_items(project, owner, csv_bytes(_rows(160)), "rows.csv")
    unlabeled = [
        {"id": f"u{i}", "text": f"{POSITIVE[i % 8]} or {NEGATIVE[i % 8]} visit u{i}"} for i in range(30)
    ]
    labeling_services.import_items(project, owner, csv_bytes(unlabeled), "pool.csv")
    return project


def _test_items(project, part: str | None = None) -> list[Item]:
    """Labeled test items; of one part ("decision" or "report") when `part` is given."""
    items = project.items.filter(split=Split.TEST, label__isnull=False).select_related("label").order_by("pk")
    seed = project.seed % 2**31
    return [
        i
        for i in items
        if part is None or splits.holdout_part(seed, splits.split_key(i.meta, i.text)) == part
    ]


def _load(model: ModelVersion):
    return training.load_artifact(Path(settings.ARTIFACT_DIR) / model.artifact, model.sha256)


def _flip_pool_labels(project, user, share: float) -> None:
    """Contradict the import on a share of the labeled pool items (the latest vote wins a tie)."""
    labels = {label.name: label for label in project.labels.all()}
    items = list(
        project.items.filter(split=Split.POOL, label__isnull=False).select_related("label").order_by("pk")
    )
    for item in items[: int(len(items) * share)]:
        other = "negative" if item.label.name == "positive" else "positive"
        labeling_services.save_annotation(item, user, labels[other])


def test_evaluation_api_matches_scikit_learn_on_the_test_items(lab, annotator):
    model = retrain_model(lab)
    # The admin's view: annotators get it without the per-item lists and segments
    # (tests/labeling/test_annotator_blindness.py).
    body = api_client(lab.created_by).get(f"/api/v1/models/{model.pk}/evaluation?k=3").json()
    report = body["evaluation"]
    test = _test_items(lab, "report")
    texts, y_true = [i.text for i in test], [i.label.name for i in test]
    proba = training.predict_proba(_load(model), texts)
    y_pred = np.asarray(model.classes)[proba.argmax(axis=1)]

    assert body["model"]["id"] == str(model.pk)
    assert report["n"] == len(test) > 20
    assert report["test_parts"] == {"report": len(test), "decision": len(_test_items(lab, "decision"))}
    assert report["accuracy"]["value"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert report["macro_f1"]["value"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert report["macro_f1"]["low"] <= report["macro_f1"]["value"] <= report["macro_f1"]["high"]
    positive = model.classes.index("positive")
    assert report["roc"]["classes"]["positive"]["auc"] == pytest.approx(
        roc_auc_score(np.asarray(y_true) == "positive", proba[:, positive])
    )
    assert report["calibration"]["brier"] == pytest.approx(
        brier_score_loss(y_true, proba, labels=model.classes)
    )
    assert {"text length", "source"} <= set(report["segments"])
    assert sum(s["n"] for s in report["segments"]["source"]) == len(test)
    assert all(len(entries) <= 3 for entries in report["top"].values())
    assert report["features"]["positive"]
    assert report["cross_validation"]["folds"] == 5
    assert body["learning_curve"][0]["macro_f1"] == report["macro_f1"]["value"]
    assert model.metrics["macro_f1"] == pytest.approx(report["macro_f1"]["value"])


def test_no_training_item_is_ever_counted_in_the_evaluation(owner):
    lab = make_project(owner, name="Small", test_fraction=0.25, seed=6)
    rows = _rows(100)
    for row in rows[-5:]:
        row["label"] = ""
    labeling_services.import_items(lab, owner, csv_bytes(rows), "rows.csv")
    # Put a copy of a training text in the test split: the model saw that text.
    pool_item = lab.items.filter(split=Split.POOL, label__isnull=False).order_by("pk").first()
    twin = lab.items.filter(split=Split.TEST, label__isnull=False).order_by("pk").first()
    Item.objects.filter(pk=twin.pk).update(text=pool_item.text)
    model = retrain_model(lab)
    report = api_client(owner).get(f"/api/v1/models/{model.pk}/evaluation?k=50").json()["evaluation"]

    evaluated = {e["item"] for entries in report["top"].values() for e in entries}
    expected = {i.pk for i in _test_items(lab, "report")} - {twin.pk}
    trained = set(lab.items.filter(split=Split.POOL, label__isnull=False).values_list("pk", flat=True))
    assert report["n"] == len(expected) < 25
    assert {e["item"] for e in report["top"]["uncertain"]} == expected  # every evaluated item, listed
    assert evaluated <= expected
    assert not evaluated & trained
    assert report["left_out_duplicates"] == 1
    assert any("repeat a training text" in w for w in report["warnings"])
    assert model.train_size == len(trained)
    suspects = {s["item"] for s in report["label_suspects"]}
    assert suspects <= trained  # cross-validation runs on training labels only


def test_model_page_draws_the_stored_evaluation_without_refitting(client, lab, annotator, outsider):
    model = retrain_model(lab)
    client.force_login(lab.created_by)  # the admin's page: annotators get no per-item lists
    # The common learning curve loads saved models once, then the page reads it from the cache.
    reports.learning_curve(lab)
    refit = AssertionError("the page must not fit anything")
    with (
        mock.patch.object(training, "fit_pipeline", side_effect=refit),
        mock.patch.object(training, "build_pipeline", side_effect=refit),
        mock.patch.object(training, "load_artifact", side_effect=refit),
    ):
        page = client.get(f"/models/{model.pk}/?k=4")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<svg") >= 6  # per label, confusion, ROC, calibration, segments, learning curve
    for title in ["Most confident and wrong", "Least sure", "What weighs most", "cross-validation"]:
        assert title in html
    client.force_login(outsider)
    assert client.get(f"/models/{model.pk}/").status_code == 404


def test_a_small_test_set_is_flagged_on_the_page(client, owner):
    project = make_project(owner, name="Tiny", test_fraction=0.2, seed=5)
    rows = _rows(40)
    for row in rows[-5:]:
        row["label"] = ""  # unlabeled items left to rank
    labeling_services.import_items(project, owner, csv_bytes(rows), "rows.csv")
    model = retrain_model(project)
    client.force_login(owner)
    html = client.get(f"/models/{model.pk}/").content.decode()
    assert f"Only {model.evaluation['n']} labeled test items" in html


def test_rollback_re_scores_the_pool_and_suggestions_come_from_that_model(
    lab, owner, annotator, django_capture_on_commit_callbacks
):
    first = retrain_model(lab)
    lab.promotion_tolerance = 1.0
    lab.save()
    _flip_pool_labels(lab, owner, 0.1)
    second = retrain_model(lab)
    assert ModelVersion.objects.get(is_active=True) == second
    client = api_client(annotator)
    held = client.get(f"/api/v1/projects/{lab.pk}/next").json()
    assert held["reason"]["model"] == str(second.pk)

    with (
        mock.patch("learners.jobs.current_app.send_task") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client(owner).post(f"/api/v1/models/{first.pk}/activate")
    assert response.status_code == 202
    job_id = response.json()["job"]["id"]
    send.assert_called_once_with("learners.tasks.activate_model", args=[job_id])
    tasks.activate_model(job_id)  # what the worker runs

    job = Job.objects.get(pk=job_id)
    assert (job.kind, job.state) == (Job.Kind.ACTIVATE, Job.State.SUCCEEDED)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_active
    assert not second.is_active
    lab.refresh_from_db()
    assert lab.active_ranking.model_ref == str(first.pk)
    lease = Lease.objects.get(item_id=held["item"]["id"])
    assert lease.model_ref == str(first.pk)  # the held item now shows the first model's guess
    again = client.get(f"/api/v1/projects/{lab.pk}/next").json()
    assert again["item"]["id"] == held["item"]["id"]
    assert again["reason"]["model"] == str(first.pk)
    labeling_services.skip_item(Item.objects.get(pk=held["item"]["id"]), annotator)
    served = client.get(f"/api/v1/projects/{lab.pk}/next").json()
    assert served["reason"]["model"] == str(first.pk)
    models = {m["id"]: m for m in client.get(f"/api/v1/projects/{lab.pk}/models").json()}
    assert models[str(first.pk)]["active"] is True
    assert models[str(second.pk)]["active"] is False


def test_a_tampered_artifact_fails_the_activation_job_and_changes_nothing(lab, owner):
    first = retrain_model(lab)
    lab.promotion_tolerance = 1.0
    lab.save()
    _flip_pool_labels(lab, owner, 0.05)
    second = retrain_model(lab)
    lab.refresh_from_db()
    ranking_before = lab.active_ranking_id
    artifact = Path(settings.ARTIFACT_DIR) / first.artifact
    artifact.write_bytes(artifact.read_bytes() + b"tampered")

    job = lifecycle.start_activation(first, owner, enqueue=False)
    lifecycle.run_activation(job)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "refusing to load a model file that changed after it was saved" in job.error
    assert job.message == "Failed; the active model did not change."
    assert ModelVersion.objects.get(is_active=True) == second
    lab.refresh_from_db()
    assert lab.active_ranking_id == ranking_before

    artifact.unlink()
    job = lifecycle.start_activation(first, owner, enqueue=False)
    lifecycle.run_activation(job)
    job.refresh_from_db()
    assert "is missing" in job.error


def test_shadow_comparison_keeps_a_worse_model_as_a_candidate_and_says_why(client, lab, owner):
    first = retrain_model(lab)
    lab.promotion_tolerance = 0.0
    lab.save()
    lab.refresh_from_db()
    ranking_before = lab.active_ranking_id
    _flip_pool_labels(lab, owner, 0.45)
    job = services.start_retrain(lab, enqueue=False)
    candidate = services.run_retrain(job)
    job.refresh_from_db()
    candidate.refresh_from_db()

    test = _test_items(lab, "decision")
    texts, y_true = [i.text for i in test], [i.label.name for i in test]
    f1_first = f1_score(y_true, _load(first).predict(texts), average="macro")
    f1_candidate = f1_score(y_true, _load(candidate).predict(texts), average="macro")
    assert f1_candidate < f1_first
    assert candidate.shadow["promoted"] is False
    assert candidate.shadow["against"] == str(first.pk)
    assert candidate.shadow["active_macro_f1"] == pytest.approx(f1_first)
    assert candidate.shadow["candidate_macro_f1"] == pytest.approx(f1_candidate)
    assert candidate.shadow["n"] == len(test)
    # Refused because even the best case of the paired interval is worse, not by noise.
    assert candidate.shadow["difference"]["high"] < -lab.promotion_tolerance
    assert candidate.is_candidate
    assert not candidate.is_active
    assert ModelVersion.objects.get(is_active=True) == first
    lab.refresh_from_db()
    assert lab.active_ranking_id == ranking_before
    assert job.state == Job.State.SUCCEEDED
    assert "Kept as a candidate" in job.message
    assert job.result["promoted"] is False

    client.force_login(owner)
    listing = client.get(f"/projects/{lab.slug}/models/").content.decode()
    assert "candidate" in listing
    assert "worse than the project&#x27;s tolerance" in listing
    page = client.get(f"/models/{candidate.pk}/").content.decode()
    assert "Kept as a candidate" in page
    assert "Activate this model" in page


def test_shadow_comparison_promotes_a_model_within_the_tolerance(lab, owner):
    first = retrain_model(lab)
    lab.promotion_tolerance = 1.0
    lab.save()
    _flip_pool_labels(lab, owner, 0.45)
    second = retrain_model(lab)
    assert second.is_active
    assert second.shadow["promoted"] is True
    assert second.shadow["candidate_macro_f1"] < second.shadow["active_macro_f1"]
    assert second.shadow["reason"].startswith("Promoted")
    first.refresh_from_db()
    assert not first.is_active


def test_the_first_model_is_promoted_without_comparison(lab):
    model = retrain_model(lab)
    assert model.is_active
    assert model.shadow == {
        "against": None,
        "tolerance": 0.02,
        "n": len(_test_items(lab, "decision")),
        "part": "decision",
        "promoted": True,
        "reason": "No model was active: this one becomes the active model.",
    }


def test_activation_refusals(lab, owner, annotator, outsider):
    model = retrain_model(lab)
    client = api_client(owner)
    already = client.post(f"/api/v1/models/{model.pk}/activate")
    assert already.status_code == 400
    assert "already the active model" in already.json()["error"]
    failed = ModelVersion.objects.create(project=lab, algorithm="x", status=ModelVersion.Status.FAILED)
    refused = client.post(f"/api/v1/models/{failed.pk}/activate")
    assert refused.status_code == 400
    assert "only a ready model" in refused.json()["error"]
    assert api_client(annotator).post(f"/api/v1/models/{model.pk}/activate").status_code == 403
    assert api_client(outsider).post(f"/api/v1/models/{model.pk}/activate").status_code == 404
    assert api_client(owner).get("/api/v1/models/00000000-0000-0000-0000-000000000000").status_code == 404
    assert not Job.objects.filter(kind=Job.Kind.ACTIVATE).exists()

    other = ModelVersion.objects.create(
        project=lab,
        algorithm="x",
        status=ModelVersion.Status.READY,
        artifact=model.artifact,
        sha256=model.sha256,
    )
    lifecycle.start_activation(other, owner, enqueue=False)
    second = client.post(f"/api/v1/models/{other.pk}/activate")
    assert second.status_code == 409
    assert second.json()["job"]["kind"] == "activate"
    assert Job.objects.filter(kind=Job.Kind.ACTIVATE).count() == 1


def test_activate_button_on_the_model_page_queues_a_job(client, lab, owner, annotator):
    first = retrain_model(lab)
    lab.promotion_tolerance = 1.0
    lab.save()
    _flip_pool_labels(lab, owner, 0.05)
    retrain_model(lab)
    client.force_login(annotator)
    assert client.post(f"/models/{first.pk}/activate").status_code == 403
    client.force_login(owner)
    with mock.patch("learners.jobs.current_app.send_task"):
        response = client.post(f"/models/{first.pk}/activate")
    job = Job.objects.get(kind=Job.Kind.ACTIVATE)
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.params == {"model": str(first.pk)}


def test_promotion_tolerance_is_a_project_setting(client, lab, owner, annotator):
    client.force_login(owner)
    assert client.post(f"/projects/{lab.slug}/promotion", {"promotion_tolerance": "0.05"}).status_code == 302
    lab.refresh_from_db()
    assert lab.promotion_tolerance == 0.05
    client.post(f"/projects/{lab.slug}/promotion", {"promotion_tolerance": "2"})
    lab.refresh_from_db()
    assert lab.promotion_tolerance == 0.05
    client.force_login(annotator)
    assert client.post(f"/projects/{lab.slug}/promotion", {"promotion_tolerance": "0.5"}).status_code == 403
    lab.refresh_from_db()
    assert lab.promotion_tolerance == 0.05


def test_learning_curve_has_one_point_per_evaluated_model(lab, owner):
    lab.promotion_tolerance = 1.0
    lab.save()
    for i in range(2):
        labeling_services.import_items(lab, owner, csv_bytes(_rows(40, start=200 + 40 * i)), f"more{i}.csv")
        retrain_model(lab)
    models = list(ModelVersion.objects.filter(project=lab).order_by("created_at"))
    curve = api_client(owner).get(f"/api/v1/models/{models[-1].pk}/evaluation").json()["learning_curve"]
    assert [p["model"] for p in curve] == [str(m.pk) for m in models]
    assert [p["train_size"] for p in curve] == [m.train_size for m in models]
    assert curve[0]["train_size"] < curve[1]["train_size"]
    # Every point on one common set (today's report part); the newest model's own set is it.
    assert len({p["test_size"] for p in curve}) == 1
    assert curve[-1]["macro_f1"] == pytest.approx(models[-1].metrics["macro_f1"])
    assert [p["active"] for p in curve] == [False, True]


def test_evaluation_api_rejects_a_bad_k(lab, owner):
    model = retrain_model(lab)
    response = api_client(owner).get(f"/api/v1/models/{model.pk}/evaluation?k=0")
    assert response.status_code == 400
    assert "k must be" in response.json()["error"]


def test_cross_validation_can_be_turned_off(lab, settings):
    settings.SIFT_CV_FOLDS = 0
    model = retrain_model(lab)
    assert "off" in model.evaluation["cross_validation"]["skipped"]
    assert model.evaluation["label_suspects"] == []


def test_a_queued_retrain_cross_validates_in_a_job_of_its_own(lab, owner, django_capture_on_commit_callbacks):
    with (
        mock.patch("learners.jobs.current_app.send_task") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        job = services.start_retrain(lab, owner)
    send.assert_called_once_with("learners.tasks.retrain", args=[job.pk])
    with (
        mock.patch("learners.jobs.current_app.send_task") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.retrain(job.pk)
    model = ModelVersion.objects.get(project=lab)
    assert model.is_active  # the ranking did not wait for the cross-validation
    assert "pending" in model.evaluation["cross_validation"]
    evaluate = Job.objects.get(kind=Job.Kind.EVALUATE)
    send.assert_called_once_with("learners.tasks.cross_validate_model", args=[evaluate.pk])
    assert evaluate.params == {"model": str(model.pk)}

    tasks.cross_validate_model(evaluate.pk)
    evaluate.refresh_from_db()
    model.refresh_from_db()
    assert evaluate.state == Job.State.SUCCEEDED
    assert "Cross-validated model" in evaluate.message
    assert model.evaluation["cross_validation"]["folds"] == 5
    assert model.evaluation["macro_f1"]["value"] == model.metrics["macro_f1"]  # the rest is untouched
    tasks.cross_validate_model(evaluate.pk)  # a redelivered message does not run it twice
    assert Job.objects.filter(kind=Job.Kind.EVALUATE).count() == 1
