"""The data-quality page: balance, lengths, duplicates, disagreements, likely label errors, drift."""

import pytest
from django.core.cache import cache

from labeling import services as labeling_services
from labeling.models import Split
from learners import reports, services
from learners.models import Job
from tests.factories import add_member, csv_bytes, make_project, make_user

POSITIVE = ["great", "lovely", "wonderful", "excellent", "happy", "superb", "kind", "fast"]
NEGATIVE = ["terrible", "awful", "rude", "dreadful", "sad", "slow", "broken", "dirty"]


def _rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        words = POSITIVE if i % 2 == 0 else NEGATIVE
        text = f"{words[i % 8]} and {words[(i // 2) % 8]} service on visit {i}"
        rows.append({"id": f"r{i}", "text": text, "label": "positive" if i % 2 == 0 else "negative"})
    return rows


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def shop(owner, annotator):
    project = make_project(owner, name="Shop", test_fraction=0.3, overlap=2, seed=8)
    add_member(project, annotator)
    rows = _rows(120)
    planted = next(r for r in rows[::2] if r["id"] not in ("r0",))
    planted["label"] = "negative"  # a clearly positive text imported with the wrong label
    rows += [
        {"id": "dup-a", "text": "Same words, twice over", "label": "positive"},
        {"id": "dup-b", "text": "same  words, TWICE over", "label": "negative"},
        {"id": "near-a", "text": "Why isn't my refund showing up in my statement?"},
        {"id": "near-b", "text": "Why isn't my refund showing in my statement?"},
        {"id": "open-1", "text": "the service was fine I suppose"},
        {"id": "open-2", "text": "no opinion about the service"},
    ]
    labeling_services.import_items(project, owner, csv_bytes(rows, ["id", "text", "label"]), "rows.csv")
    project.planted = planted["id"]
    return project


def _retrain(project) -> None:
    job = services.start_retrain(project, enqueue=False)
    services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error


def test_quality_page_before_any_model(client, shop, annotator):
    client.force_login(annotator)
    page = client.get(f"/projects/{shop.slug}/quality/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Label balance" in html
    assert html.count("<svg") == 2  # balance and lengths
    assert "No active model yet" in html


def test_duplicates_and_disagreements_are_listed(client, shop, owner, annotator):
    carol = make_user("carol")
    add_member(shop, carol)
    item = shop.items.get(external_id="open-1")
    labels = {label.name: label for label in shop.labels.all()}
    labeling_services.save_annotation(item, annotator, labels["positive"])
    labeling_services.save_annotation(item, carol, labels["negative"])
    agreed = shop.items.get(external_id="open-2")
    labeling_services.save_annotation(agreed, annotator, labels["negative"])
    labeling_services.save_annotation(agreed, carol, labels["negative"])

    report = reports.data_quality(shop)
    assert report["exact_duplicates"]["groups"] == 1
    assert report["exact_duplicates"]["conflicting"] == 1
    assert {i.external_id for i in report["exact_duplicates"]["shown"][0]["items"]} == {"dup-a", "dup-b"}
    pairs = {(p["a"].external_id, p["b"].external_id) for p in report["near_duplicates"]["pairs"]}
    assert ("near-a", "near-b") in pairs
    assert report["disagreements"]["count"] == 1
    assert report["disagreements"]["multi_voted"] == 2
    shown = report["disagreements"]["shown"][0]
    assert shown["item"].external_id == "open-1"
    assert shown["votes"] == [("bob", "positive"), ("carol", "negative")]

    client.force_login(owner)
    html = client.get(f"/projects/{shop.slug}/quality/").content.decode()
    assert "labels differ" in html
    assert "bob: <b>positive</b>" in html


def test_an_imported_label_error_is_flagged_by_a_model_that_never_trained_on_it(client, shop, owner):
    _retrain(shop)
    report = reports.data_quality(shop)
    suspects = report["suspects"]
    assert suspects["available"]
    flagged = {shop.items.get(pk=s["item"]).external_id: s for s in suspects["imported"]}
    assert shop.planted in flagged
    assert flagged[shop.planted]["given"] == "negative"
    assert flagged[shop.planted]["predicted"] == "positive"
    assert flagged[shop.planted]["confidence"] >= 0.8

    # Corrected since: no longer listed.
    item = shop.items.get(external_id=shop.planted)
    adjudicated = shop.labels.get(name="positive")
    labeling_services.save_annotation(item, owner, adjudicated, origin="adjudication")
    again = reports.data_quality(shop)["suspects"]["imported"]
    assert shop.planted not in {shop.items.get(pk=s["item"]).external_id for s in again}


def test_drift_compares_newly_imported_items_with_the_training_texts(client, shop, owner):
    _retrain(shop)
    assert "skipped" in reports.data_quality(shop)["drift"]
    new = [{"id": f"n{i}", "text": f"crypto wallet {i} bitcoin transfer failed again"} for i in range(40)]
    labeling_services.import_items(shop, owner, csv_bytes(new), "new.csv")

    drift = reports.data_quality(shop)["drift"]
    assert drift["new_count"] == 40
    assert drift["reference_count"] == shop.items.filter(split=Split.POOL, label__isnull=False).count()
    assert drift["auc"] > 0.95
    assert {"crypto", "wallet", "bitcoin"} & set(drift["new_words"])
    assert drift["oov_new"] > drift["oov_reference"]
    client.force_login(owner)
    html = client.get(f"/projects/{shop.slug}/quality/").content.decode()
    assert "novelty model ROC AUC" in html
    assert html.count("<svg") == 3


def test_quality_page_is_for_members_only(client, shop, outsider):
    client.force_login(outsider)
    assert client.get(f"/projects/{shop.slug}/quality/").status_code == 404
