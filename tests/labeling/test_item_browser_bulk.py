"""Bulk flagging from the items browser: chosen ids or a whole filter, one transaction, admins only."""

import pytest
from django.urls import reverse

from labeling import bulk_actions, services
from labeling.models import Skip
from tests.factories import api_client, import_rows, make_project, make_review_rows


@pytest.fixture
def rows(project, items):
    return {item.external_id: item for item in items}


def _open_flags(project) -> set[str]:
    flags = Skip.objects.filter(item__project=project, flagged=True, resolved_at=None)
    return set(flags.values_list("item__external_id", flat=True))


def test_api_flags_chosen_ids_and_counts_only_new_flags(project, owner, annotator, rows):
    services.skip_item(rows["r1"], annotator, flag=True)
    body = {"action": "flag", "ids": [rows["r0"].pk, rows["r1"].pk], "comment": "check"}
    response = api_client(owner).post(f"/api/v1/projects/{project.pk}/items/bulk", body, format="json")
    assert response.status_code == 200
    assert response.json() == {"action": "flag", "selected": 2, "changed": 1, "bulk_action": None}
    assert _open_flags(project) == {"r0", "r1"}
    assert Skip.objects.get(item=rows["r0"]).comment == "check"


def test_api_flags_every_item_a_filter_passes(project, owner, rows):
    body = {"action": "flag", "filter": {"q": "staff"}}
    response = api_client(owner).post(f"/api/v1/projects/{project.pk}/items/bulk", body, format="json")
    expected = {name for name, item in rows.items() if "staff" in item.text}
    assert response.json()["changed"] == len(expected) > 0
    assert _open_flags(project) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"action": "flag"},
        {"action": "delete", "ids": [1]},
        {"action": "flag", "ids": [1], "filter": {}},
        {"action": "flag", "filter": {"conf_min": "7"}},
    ],
)
def test_api_refuses_bad_bulk_input_and_changes_nothing(project, owner, rows, body):
    response = api_client(owner).post(f"/api/v1/projects/{project.pk}/items/bulk", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]
    assert _open_flags(project) == set()


def test_ids_of_another_project_change_nothing(project, owner, rows):
    other = make_project(owner, name="Other")
    import_rows(other, make_review_rows(2))
    stranger = other.items.first()
    body = {"action": "flag", "ids": [rows["r0"].pk, stranger.pk]}
    response = api_client(owner).post(f"/api/v1/projects/{project.pk}/items/bulk", body, format="json")
    assert response.status_code == 400
    assert Skip.objects.count() == 0


def test_a_selection_over_the_cap_is_refused_whole(project, owner, rows, monkeypatch):
    monkeypatch.setattr(bulk_actions, "MAX_BULK_ITEMS", 5)
    body = {"action": "flag", "filter": {}}
    response = api_client(owner).post(f"/api/v1/projects/{project.pk}/items/bulk", body, format="json")
    assert response.status_code == 400
    assert "more than 5" in response.json()["error"]
    assert Skip.objects.count() == 0


def test_annotators_and_outsiders_cannot_bulk_flag(project, annotator, outsider, rows):
    body = {"action": "flag", "ids": [rows["r0"].pk]}
    url = f"/api/v1/projects/{project.pk}/items/bulk"
    assert api_client(annotator).post(url, body, format="json").status_code == 403
    assert api_client(outsider).post(url, body, format="json").status_code == 404
    assert Skip.objects.count() == 0


def test_page_shows_the_count_then_flags_on_confirmation(client, project, owner, annotator, rows):
    client.force_login(owner)
    url = reverse("labeling:items-bulk", args=[project.slug])
    form = {"query": "q=food", "scope": "filter"}
    preview = client.post(url, form)
    expected = {name for name, item in rows.items() if "food" in item.text}
    assert preview.status_code == 200
    assert preview.context["count"] == len(expected)
    assert Skip.objects.count() == 0
    done = client.post(url, {**form, "confirm": "yes", "comment": "food"})
    assert done.status_code == 302
    assert done["Location"].endswith("/items/?q=food")
    assert _open_flags(project) == expected
    ticked = client.post(url, {"query": "", "scope": "ids", "ids": [rows["r2"].pk], "confirm": "yes"})
    assert ticked.status_code == 302
    assert "r2" in _open_flags(project)
    client.force_login(annotator)
    assert client.post(url, {**form, "confirm": "yes"}).status_code == 403
