"""Bulk label (origin "bulk", test items only when asked, one transaction, revert as one),
skip from the queue and collections, through the API and the Items page."""

from unittest import mock

import pytest
from django.db import DatabaseError
from django.urls import reverse

from labeling import bulk_actions, services
from labeling.exports import iter_dataset_rows
from labeling.models import Annotation, BulkAction, Collection, Item, Origin, QueueEntry, Split
from tests.factories import api_client

URL = "/api/v1/projects/{}/items/bulk"


def _post(user, project, body):
    return api_client(user).post(URL.format(project.pk), body, format="json")


def _labels(project) -> dict[str, str | None]:
    return {i.external_id: i.label.name if i.label else None for i in project.items.select_related("label")}


def test_bulk_label_leaves_test_items_out_unless_asked(project, owner, model_view):
    before = _labels(project)
    response = _post(owner, project, {"action": "label", "filter": {"q": "service"}, "label": "positive"})
    assert response.status_code == 200
    # "service": r0, r1 (pool), r5 (pool); r2 is the test item and has no "service".
    body = response.json()
    assert (body["selected"], body["changed"]) == (3, 3)
    action = BulkAction.objects.get(pk=body["bulk_action"])
    assert (action.kind, action.label.name, action.include_test) == ("label", "positive", False)
    after = _labels(project)
    # r0 was negative on a tie (bob positive, dora negative): the admin's vote makes it positive.
    assert {n for n in after if after[n] != before[n]} == {"r0", "r1", "r5"}
    assert set(Annotation.objects.filter(bulk_action=action).values_list("item__external_id", flat=True)) == {
        "r0",
        "r1",
        "r5",
    }
    assert all(a.origin == Origin.BULK for a in Annotation.objects.filter(bulk_action=action))
    test_only = _post(owner, project, {"action": "label", "filter": {"split": "test"}, "label": "positive"})
    assert test_only.json()["changed"] == 0
    assert _labels(project)["r2"] == "negative"
    asked = _post(
        owner,
        project,
        {"action": "label", "filter": {"split": "test"}, "label": "positive", "include_test": True},
    )
    assert asked.json()["changed"] == 1
    assert _labels(project)["r2"] == "positive"


def test_a_dataset_version_tells_bulk_labels_apart(project, owner, model_view):
    _post(owner, project, {"action": "label", "ids": [model_view["items"]["r5"].pk], "label": "positive"})
    rows = {r.external_id: r for r in iter_dataset_rows(project, services.get_label_watermark(project))}
    assert rows["r5"].label == "positive"
    version = services.create_dataset_version(project, owner)
    assert version.counts


def test_revert_takes_a_bulk_label_back_as_one_but_keeps_later_relabels(project, owner, model_view):
    items = model_view["items"]
    before = _labels(project)
    body = _post(
        owner, project, {"action": "label", "ids": [items["r5"].pk, items["r6"].pk], "label": "positive"}
    ).json()
    # The admin relabels r6 by hand afterwards: the revert must not touch that.
    services.save_annotation(items["r6"], owner, model_view["negative"])
    response = api_client(owner).post(f"/api/v1/bulk-actions/{body['bulk_action']}/revert")
    assert response.status_code == 200
    assert response.json() == {"bulk_action": body["bulk_action"], "withdrawn": 1}
    after = _labels(project)
    assert after["r5"] == before["r5"] is None
    assert after["r6"] == "negative"
    again = api_client(owner).post(f"/api/v1/bulk-actions/{body['bulk_action']}/revert")
    assert again.status_code == 400
    assert _labels(project) == after


def test_a_failure_inside_a_bulk_label_changes_nothing(project, owner, model_view):
    before = _labels(project)
    annotations = Annotation.objects.count()
    with mock.patch.object(bulk_actions, "_refresh_labels", side_effect=DatabaseError("disk full")):
        response = _post(owner, project, {"action": "label", "filter": {}, "label": "positive"})
    assert response.status_code == 500
    assert _labels(project) == before
    assert Annotation.objects.count() == annotations
    assert not BulkAction.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"action": "label", "filter": {}},
        {"action": "label", "filter": {}, "label": "nope"},
        {"action": "collect", "filter": {}},
        {"action": "collect", "filter": {}, "collection": "  "},
    ],
)
def test_bad_bulk_label_or_collect_input_is_a_400(project, owner, model_view, body):
    response = _post(owner, project, body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert not BulkAction.objects.exists()


def test_annotators_cannot_bulk_label_or_revert(project, owner, annotator, model_view):
    assert (
        _post(annotator, project, {"action": "label", "filter": {}, "label": "positive"}).status_code == 403
    )
    body = _post(owner, project, {"action": "label", "filter": {}, "label": "positive"}).json()
    assert api_client(annotator).post(f"/api/v1/bulk-actions/{body['bulk_action']}/revert").status_code == 403


def test_skip_takes_items_out_of_the_active_queue(project, owner, model_view):
    items = model_view["items"]
    body = _post(owner, project, {"action": "skip", "ids": [items["r5"].pk, items["r0"].pk]}).json()
    assert (body["selected"], body["changed"]) == (2, 1)
    queued = QueueEntry.objects.filter(ranking=project.active_ranking).values_list(
        "item__external_id", flat=True
    )
    assert sorted(queued) == ["r6", "r7"]


def test_collect_adds_items_to_a_named_collection_once(project, owner, model_view):
    first = _post(
        owner, project, {"action": "collect", "filter": {"q": "food"}, "collection": "hard cases"}
    ).json()
    second = _post(
        owner, project, {"action": "collect", "filter": {"q": "cold"}, "collection": "hard cases"}
    ).json()
    assert (first["changed"], second["changed"]) == (3, 0)
    collection = Collection.objects.get(project=project, name="hard cases")
    assert sorted(collection.items.values_list("external_id", flat=True)) == ["r0", "r1", "r4"]


def test_items_page_previews_then_bulk_labels_and_warns_about_test_items(client, project, owner, model_view):
    client.force_login(owner)
    url = reverse("labeling:items-bulk", args=[project.slug])
    form = {"query": "", "scope": "filter", "action": "label", "label": "positive", "include_test": "on"}
    preview = client.post(url, form)
    assert preview.status_code == 200
    assert preview.context["count"] == 8
    assert 'id="bulk-test-warning"' in preview.content.decode()
    assert not BulkAction.objects.exists()
    done = client.post(url, {**form, "confirm": "yes"})
    assert done.status_code == 302
    assert set(_labels(project).values()) == {"positive"}
    assert Item.objects.filter(project=project, split=Split.TEST, label__name="positive").exists()
    page = client.get(reverse("labeling:items", args=[project.slug])).content.decode()
    assert "Recent bulk labels" in page
    action = BulkAction.objects.get()
    assert client.post(reverse("labeling:bulk-revert", args=[project.slug, action.pk])).status_code == 302
    action.refresh_from_db()
    assert action.reverted_at is not None
