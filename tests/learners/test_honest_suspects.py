"""Likely label errors come from pool items only; a test item's page says why not to relabel it."""

import pytest
from django.core.cache import cache

from labeling import services as labeling_services
from labeling import splits
from learners import reports, services
from learners.models import Job, ModelVersion
from tests.factories import csv_bytes, make_project

POSITIVE = ["great", "lovely", "wonderful", "excellent", "happy", "superb", "kind", "fast"]
NEGATIVE = ["terrible", "awful", "rude", "dreadful", "sad", "slow", "broken", "dirty"]
SEED, TEST_FRACTION = 8, 0.3


def _split_of(text: str) -> str:
    return splits.assign_split(SEED, splits.content_hash(text), TEST_FRACTION)


@pytest.fixture
def planted(owner):
    """Clean sentiment rows, plus one clearly positive text imported as negative in each split."""
    cache.clear()
    project = make_project(owner, name="Planted", test_fraction=TEST_FRACTION, seed=SEED)
    rows = []
    for i in range(140):
        words = POSITIVE if i % 2 == 0 else NEGATIVE
        text = f"{words[i % 8]} and {words[(i // 2) % 8]} service on visit {i}"
        rows.append({"id": f"r{i}", "text": text, "label": "positive" if i % 2 == 0 else "negative"})
    wrong = {}
    for row in rows[::2]:
        split = _split_of(row["text"])
        if split not in wrong:
            row["label"] = "negative"
            wrong[split] = row["id"]
    assert set(wrong) == {"pool", "test"}
    labeling_services.import_items(project, owner, csv_bytes(rows, ["id", "text", "label"]), "rows.csv")
    job = services.start_retrain(project, enqueue=False)
    services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    project.wrong = wrong
    return project


def test_a_confidently_wrong_test_item_is_never_proposed_as_a_label_error(planted, client, owner):
    test_item = planted.items.get(external_id=planted.wrong["test"])
    pool_item = planted.items.get(external_id=planted.wrong["pool"])
    active = ModelVersion.objects.get(project=planted, is_active=True)
    confident_wrong = {e["item"]: e for e in active.evaluation["top"]["confident_wrong"]}
    # The defect's precondition holds: the model does contradict the test label, confidently.
    assert confident_wrong[test_item.pk]["confidence"] >= 0.8

    suspects = reports.data_quality(planted)["suspects"]["imported"]
    flagged = {s["item"] for s in suspects}
    assert pool_item.pk in flagged
    assert test_item.pk not in flagged
    assert all(planted.items.get(pk=pk).split == "pool" for pk in flagged)

    client.force_login(owner)
    html = client.get(f"/projects/{planted.slug}/quality/").content.decode()
    assert f"/items/{pool_item.pk}/" in html
    assert f"/items/{test_item.pk}/" not in html
    assert "Test items are never listed here" in html


def test_an_admin_opening_a_test_item_is_told_why_not_to_relabel_it_toward_the_model(planted, client, owner):
    client.force_login(owner)
    test_item = planted.items.get(external_id=planted.wrong["test"])
    pool_item = planted.items.get(external_id=planted.wrong["pool"])
    test_page = client.get(f"/projects/{planted.slug}/items/{test_item.pk}/").content.decode()
    assert 'id="test-item-warning"' in test_page
    assert "never because a model disagrees" in test_page
    pool_page = client.get(f"/projects/{planted.slug}/items/{pool_item.pk}/").content.decode()
    assert 'id="test-item-warning"' not in pool_page
