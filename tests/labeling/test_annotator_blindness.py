"""Nothing an annotator can open tells a test item apart from a pool item.

A table of every page and JSON endpoint open to an annotator: fetched as the annotator, none
of them names a labeled test item (the admins' versions of the item lists do, which shows
the check bites), and the item-level answers (the next item, a label, a skip, the history)
have the same shape and the same words for a test item as for a pool item labeled unaided.
"""

import re

import pytest

from labeling import services as labeling_services
from labeling.models import Item, Split
from learners import services as learner_services
from learners.models import Job, ModelVersion
from tests.factories import add_member, api_client, csv_bytes, make_project

WORDS = {"positive": ["lovely", "superb", "kind", "great"], "negative": ["awful", "rude", "slow", "dirty"]}
SPLIT_MARKERS = re.compile(r"\bsplit\b|\"test\"|\btest item\b(?! ?s)", re.IGNORECASE)


def _rows(start: int, n: int, labeled: bool) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        label = "positive" if i % 2 == 0 else "negative"
        # "tok123" is unique per item: a page naming the item contains it.
        row = {"id": f"it-{i:03d}", "text": f"{WORDS[label][i % 4]} visit tok{i:03d}"}
        # Metadata values held by one item each: an evaluation segment named by one names the item.
        row["ref"] = f"tok{i:03d}" if i < 12 else "shared"
        if labeled:
            row["label"] = label
        rows.append(row)
    return rows


@pytest.fixture
def blind(owner, annotator):
    """A project with labeled pool and test items, an active model, duplicates, and unlabeled items."""
    project = make_project(owner, name="Blind", test_fraction=0.4, test_target=0, seed=11)
    add_member(project, annotator)
    labeled = _rows(0, 80, labeled=True)
    # Copies of labeled texts under other ids, some in the other split: the quality lists show them.
    labeled += [{**row, "id": f"copy-{row['id']}"} for row in labeled[:12]]
    labeling_services.import_items(
        project, owner, csv_bytes(labeled, ["id", "text", "label", "ref"]), "a.csv"
    )
    labeling_services.import_items(
        project, owner, csv_bytes(_rows(100, 40, labeled=False), ["id", "text", "ref"]), "b.csv"
    )
    job = learner_services.start_retrain(project, enqueue=False)
    learner_services.run_retrain(job)
    project.refresh_from_db()
    return project


def _test_tokens(project) -> list[str]:
    texts = Item.objects.filter(project=project, split=Split.TEST, label__isnull=False).values_list(
        "text", flat=True
    )
    return [text.split()[-1] for text in texts]


def _annotator_urls(project) -> list[str]:
    model = ModelVersion.objects.get(project=project, is_active=True)
    job = Job.objects.filter(project=project).first()
    slug, pk = project.slug, project.pk
    pages = ["/", f"/projects/{slug}/", f"/projects/{slug}/annotate", f"/projects/{slug}/agreement"]
    pages += [f"/projects/{slug}/versions/", f"/projects/{slug}/models/", f"/projects/{slug}/quality/"]
    pages += [f"/models/{model.pk}/", f"/models/{model.pk}/?k=50", f"/jobs/{job.pk}/"]
    api = ["projects", f"projects/{pk}", f"projects/{pk}/stats", f"projects/{pk}/progress"]
    api += [f"projects/{pk}/agreement", f"projects/{pk}/versions", f"projects/{pk}/jobs"]
    api += [
        f"projects/{pk}/models",
        f"models/{model.pk}",
        f"models/{model.pk}/evaluation?k=50",
        f"jobs/{job.pk}",
    ]
    return pages + [f"/api/v1/{path}" for path in api]


def _admin_only_urls(project, item) -> list[str]:
    slug, pk = project.slug, project.pk
    pages = [f"/projects/{slug}/annotators", f"/projects/{slug}/flags"]
    pages += [
        f"/projects/{slug}/adjudicate",
        f"/projects/{slug}/export",
        f"/projects/{slug}/versions/diff?a=1&b=1",
    ]
    api = [f"projects/{pk}/export", f"projects/{pk}/annotator-stats", f"projects/{pk}/conflicts"]
    api += [f"projects/{pk}/flags"]
    return pages + [f"/api/v1/{path}" for path in api]


def test_no_page_or_endpoint_open_to_an_annotator_names_a_test_item(client, blind, annotator):
    tokens = _test_tokens(blind)
    assert len(tokens) > 10
    client.force_login(annotator)
    for url in _annotator_urls(blind):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        named = [token for token in tokens if token in body]
        assert not named, f"{url} names test items {named[:3]}"


def test_the_admins_pages_do_list_test_items_so_the_check_bites(client, blind, owner):
    tokens = _test_tokens(blind)
    model = ModelVersion.objects.get(project=blind, is_active=True)
    client.force_login(owner)
    for url in [f"/models/{model.pk}/?k=50", f"/projects/{blind.slug}/quality/"]:
        body = client.get(url).content.decode()
        assert any(token in body for token in tokens), url
    evaluation = client.get(f"/api/v1/models/{model.pk}/evaluation?k=50").json()["evaluation"]
    assert evaluation["top"]["confident_correct"]
    assert evaluation["segments"]["ref"]


def test_the_pages_with_item_lists_say_they_are_for_admins(client, blind, annotator):
    model = ModelVersion.objects.get(project=blind, is_active=True)
    client.force_login(annotator)
    assert "Items worth reading" not in client.get(f"/models/{model.pk}/").content.decode()
    quality = client.get(f"/projects/{blind.slug}/quality/").content.decode()
    assert "Per-item lists are shown to project admins only" in quality
    evaluation = client.get(f"/api/v1/models/{model.pk}/evaluation").json()["evaluation"]
    assert "top" not in evaluation
    assert "segments" not in evaluation
    assert "By segment of the test set" not in client.get(f"/models/{model.pk}/").content.decode()


def test_item_level_pages_are_closed_to_annotators_for_test_and_pool_items_alike(client, blind, annotator):
    client.force_login(annotator)
    for split in (Split.TEST, Split.POOL):
        item = Item.objects.filter(project=blind, split=split).first()
        for url in _admin_only_urls(blind, item):
            assert client.get(url).status_code == 403, url
        # An item they never labeled is not theirs to open (labeling/item_detail.py).
        for url in [f"/projects/{blind.slug}/items/{item.pk}/", f"/api/v1/items/{item.pk}"]:
            assert client.get(url).status_code == 404, url


def _shape(value: object) -> object:
    """The keys and value types of a JSON value, recursively: what a reader could tell apart."""
    if isinstance(value, dict):
        return {key: _shape(inner) for key, inner in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(inner) for inner in value[:1]]
    return type(value).__name__


def _serve_until_both(api, project) -> dict[str, dict]:
    """Label served items until a test item and an unaided pool item have both come up."""
    seen: dict[str, dict] = {}
    for _ in range(60):
        served = api.get(f"/api/v1/projects/{project.pk}/next")
        assert served.status_code == 200
        data = served.json()
        item = Item.objects.get(pk=data["item"]["id"])
        kind = "test" if item.split == Split.TEST else "pool" if data["suggestion"] is None else "suggested"
        labeled = api.post(f"/api/v1/items/{item.pk}/annotations", {"label": "positive"}, format="json")
        assert labeled.status_code == 201
        seen.setdefault(kind, {"next": data, "label": labeled.json(), "item": item})
        if "test" in seen and "pool" in seen:
            return seen
    raise AssertionError(f"only saw {sorted(seen)}")


def test_a_test_item_looks_like_a_pool_item_labeled_unaided(blind, annotator):
    blind.test_fraction, blind.suggestion_withhold_share = 0.4, 0.5
    blind.save()
    api = api_client(annotator)
    seen = _serve_until_both(api, blind)
    test, pool = seen["test"], seen["pool"]
    for name in ("next", "label"):
        assert _shape(test[name]) == _shape(pool[name]), name
        assert not SPLIT_MARKERS.search(str(test[name])), test[name]
    assert test["next"]["reason"] == pool["next"]["reason"]
    assert test["next"]["suggestion"] is None

    skips = [
        api.post(f"/api/v1/items/{seen[k]['item'].pk}/skip", {}, format="json") for k in ("test", "pool")
    ]
    assert [s.status_code for s in skips] == [201, 201]
    assert _shape(skips[0].json()) == _shape(skips[1].json())

    history = api.get(f"/api/v1/projects/{blind.pk}/history?limit=100").json()["history"]
    by_item = {entry["item"]["id"]: entry for entry in history}
    test_entry, pool_entry = by_item[test["item"].pk], by_item[pool["item"].pk]
    assert _shape(test_entry) == _shape(pool_entry)
    assert test_entry["suggested"] is None
    assert pool_entry["suggested"] is None

    progress = api.get(f"/api/v1/projects/{blind.pk}/progress").json()
    assert not [key for key in progress if "test" in key]
