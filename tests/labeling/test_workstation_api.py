"""What the labeling page relies on: prefetch, history, progress, undo, corrections, retries."""

import uuid

from labeling import services
from labeling.models import Annotation, Split
from tests.factories import api_client, make_user


def _label(client, item, label, client_id=None):
    body = {"label": label, "client_id": str(client_id or uuid.uuid4())}
    return client.post(f"/api/v1/items/{item.pk}/annotations", body, format="json")


def test_exclude_leases_the_item_after_the_current_one(project, items, annotator):
    client = api_client(annotator)
    first = client.get(f"/api/v1/projects/{project.pk}/next").json()["item"]["id"]
    second = client.get(f"/api/v1/projects/{project.pk}/next?exclude={first}").json()["item"]["id"]
    third = client.get(f"/api/v1/projects/{project.pk}/next?exclude={first}&exclude={second}").json()
    assert len({first, second, third["item"]["id"]}) == 3


def test_a_retried_label_creates_one_annotation(project, items, annotator):
    client = api_client(annotator)
    client_id = uuid.uuid4()
    assert _label(client, items[0], "positive", client_id).status_code == 201
    again = _label(client, items[0], "positive", client_id)
    assert again.status_code == 200
    assert Annotation.objects.filter(item=items[0]).count() == 1


def test_undo_withdraws_the_label_and_keeps_both_rows(project, items, annotator):
    client = api_client(annotator)
    _label(client, items[0], "positive")
    _label(client, items[0], None)
    items[0].refresh_from_db()
    assert (items[0].label, items[0].label_count) == (None, 0)
    assert list(Annotation.objects.filter(item=items[0]).values_list("label__name", flat=True)) == [
        "positive",
        None,
    ]


def test_history_lists_the_callers_latest_label_per_item_newest_first(project, items, annotator, owner):
    client = api_client(annotator)
    _label(client, items[0], "positive")
    _label(client, items[1], "negative")
    _label(client, items[0], "negative")  # a correction: a new row, shown once
    _label(client, items[2], "positive")
    _label(client, items[2], None)  # an undo
    services.save_annotation(items[3], owner, project.labels.first())  # someone else's

    body = client.get(f"/api/v1/projects/{project.pk}/history").json()["history"]
    assert [(h["item"]["id"], h["label"]) for h in body] == [
        (items[2].pk, None),
        (items[0].pk, "negative"),
        (items[1].pk, "negative"),
    ]
    assert body[1]["item"]["text"] == items[0].text
    assert Annotation.objects.filter(item=items[0], user=annotator).count() == 2


def test_history_limit_is_checked(project, annotator):
    client = api_client(annotator)
    response = client.get(f"/api/v1/projects/{project.pk}/history?limit=zero")
    assert response.status_code == 400
    assert "limit" in response.json()["error"]
    assert client.get(f"/api/v1/projects/{project.pk}/history?limit=1000").status_code == 200


def test_progress_counts_the_callers_live_labels_and_test_progress_only_for_admins(
    project, items, annotator, owner
):
    client = api_client(annotator)
    pool = [i for i in items if i.split == Split.POOL]
    _label(client, pool[0], "positive")
    _label(client, pool[1], "negative")
    _label(client, pool[1], None)
    services.save_annotation(pool[2], make_user("dora"), project.labels.first())

    mine = client.get(f"/api/v1/projects/{project.pk}/progress").json()
    assert (mine["today"], mine["mine"]) == (1, 1)
    assert (mine["pool_labeled"], mine["pool_total"]) == (2, len(pool))
    assert "test_target" not in mine  # annotators are not told about the test set
    admin = api_client(owner).get(f"/api/v1/projects/{project.pk}/progress").json()
    assert admin["test_target"] == project.test_target
    assert admin["test_total"] == len(items) - len(pool)
