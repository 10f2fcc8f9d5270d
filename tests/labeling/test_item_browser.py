"""The items browser's query layer, page and API: filters, sorts, keyset pages and role rules."""

import pytest
from django.urls import reverse

from labeling import item_browser, services
from tests.factories import api_client, csv_bytes


def _ids(project, user, params: dict, *, admin: bool = True, page_size: int = 50) -> list[str]:
    from labeling.forms import ItemFilterForm

    form = ItemFilterForm(params, project=project, admin=admin)
    assert form.is_valid(), form.errors
    page = item_browser.browse_items(project, user, form.cleaned_data, admin=admin, page_size=page_size)
    return [item.external_id for item in page.items]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"]),
        ({"q": "food cold"}, ["r1", "r4"]),
        ({"q": "SERVICE"}, ["r0", "r1", "r5"]),
        ({"phrase": "were rude"}, ["r2"]),
        ({"phrase": "rude were"}, []),
        ({"state": "labeled"}, ["r0", "r1", "r2"]),
        ({"state": "unlabeled"}, ["r3", "r4", "r5", "r6", "r7"]),
        ({"label": "negative"}, ["r1", "r2"]),
        ({"annotator": "bob"}, ["r0", "r1", "r2"]),
        ({"meta": "source=web"}, ["r1", "r3", "r5", "r7"]),
        ({"flagged": "on"}, ["r3"]),
        ({"skipped": "on"}, ["r4"]),
        ({"predicted": "negative"}, ["r5", "r7"]),
        ({"conf_min": "0.6", "conf_max": "0.9"}, ["r5"]),
        ({"q": "service", "state": "unlabeled"}, ["r5"]),
        ({"sort": "priority"}, ["r5", "r7", "r6"]),
        ({"sort": "recent"}, ["r2", "r1", "r0"]),
        ({"sort": "length"}, ["r6", "r4", "r0", "r1", "r2", "r3", "r5", "r7"]),
    ],
)
def test_each_filter_and_sort_gives_the_known_items(project, owner, browse, params, expected):
    assert _ids(project, owner, params) == expected


def test_split_date_and_batch_filters(project, owner, browse):
    tests = sorted(i.external_id for i in browse["items"].values() if i.split == "test")
    assert _ids(project, owner, {"split": "test"}) == tests
    today = browse["batch"].created_at.date().isoformat()
    assert len(_ids(project, owner, {"created_from": today, "created_to": today})) == 8
    assert _ids(project, owner, {"created_from": "2999-01-01"}) == []
    assert len(_ids(project, owner, {"batch": browse["batch"].pk})) == 8


def test_keyset_pages_walk_forward_and_back_without_repeats_under_inserts(project, owner, browse):
    from labeling.forms import ItemFilterForm

    def page(cursor: str = "") -> item_browser.Page:
        form = ItemFilterForm({"sort": "length"}, project=project, admin=True)
        assert form.is_valid()
        return item_browser.browse_items(
            project, owner, form.cleaned_data, admin=True, cursor=cursor, page_size=3
        )

    first = page()
    assert first.previous_cursor is None
    # A long item arriving meanwhile sorts before the first page: the next pages do not shift.
    services.import_items(
        project, owner, csv_bytes([{"id": "new", "text": "x" * 500}], ["id", "text"]), "b.csv"
    )
    second = page(first.next_cursor)
    third = page(second.next_cursor)
    seen = [i.external_id for p in (first, second, third) for i in p.items]
    assert seen == ["r6", "r4", "r0", "r1", "r2", "r3", "r5", "r7"]
    assert third.next_cursor is None
    back = page(third.previous_cursor)
    assert [i.external_id for i in back.items] == ["r1", "r2", "r3"]
    assert [i.external_id for i in page(back.previous_cursor).items] == ["r6", "r4", "r0"]


def test_a_cursor_from_another_sort_or_edited_is_refused(project, owner, browse):
    filters = {"sort": "id"}
    first = item_browser.browse_items(project, owner, filters, admin=True, page_size=2)
    with pytest.raises(item_browser.BadCursor):
        item_browser.browse_items(project, owner, {"sort": "length"}, admin=True, cursor=first.next_cursor)
    with pytest.raises(item_browser.BadCursor):
        item_browser.browse_items(project, owner, filters, admin=True, cursor=first.next_cursor + "x")


def test_annotators_browse_only_their_items_without_split_or_model_data(project, annotator, browse):
    response = api_client(annotator).get(f"/api/v1/projects/{project.pk}/items")
    assert response.status_code == 200
    rows = response.json()["items"]
    assert [r["external_id"] for r in rows] == ["r0", "r1", "r2"]
    hidden = {
        "split",
        "label",
        "predicted_label",
        "confidence",
        "priority",
        "open_flags",
        "skips",
        "conflict",
    }
    assert all(hidden.isdisjoint(row) for row in rows)
    assert [r["your_label"] for r in rows] == ["positive", "negative", "negative"]


@pytest.mark.parametrize("param", ["split=test", "label=positive", "predicted=negative", "sort=priority"])
def test_annotators_cannot_filter_on_what_tells_test_items_apart(project, annotator, browse, param):
    response = api_client(annotator).get(f"/api/v1/projects/{project.pk}/items?{param}")
    assert response.status_code == 400
    assert response.json()["error"]


def test_outsiders_and_anonymous_get_no_items(client, project, outsider, browse):
    assert api_client(outsider).get(f"/api/v1/projects/{project.pk}/items").status_code == 404
    assert api_client().get(f"/api/v1/projects/{project.pk}/items").status_code in (401, 403)
    assert client.get(reverse("labeling:items", args=[project.slug])).status_code == 302  # to log in
    client.force_login(outsider)
    assert client.get(reverse("labeling:items", args=[project.slug])).status_code == 404


def test_api_pages_with_cursor_and_reports_bad_input(project, owner, browse):
    client = api_client(owner)
    url = f"/api/v1/projects/{project.pk}/items"
    first = client.get(url, {"limit": 5, "q": "food"}).json()
    assert [r["external_id"] for r in first["items"]] == ["r0", "r1", "r4"]
    assert first["next"] is None
    assert first["previous"] is None
    row = first["items"][0]
    assert row["split"] in ("pool", "test")
    assert row["label"] == "positive"
    assert row["label_origin"] == "human"
    assert row["meta"] == {"source": "app"}
    assert row["annotations"] == 1
    paged = client.get(url, {"limit": 5}).json()
    rest = client.get(url, {"limit": 5, "cursor": paged["next"]}).json()
    assert len(paged["items"]) == 5
    assert len(rest["items"]) == 3
    queued = client.get(url, {"sort": "priority", "limit": 1}).json()["items"][0]
    assert queued["predicted_label"] == "negative"
    assert queued["confidence"] == 0.8
    assert queued["reason"] == "unsure"
    for bad in (
        {"limit": 0},
        {"conf_min": 2},
        {"cursor": "nope"},
        {"meta": "no pair"},
        {"annotator": "nobody"},
    ):
        response = client.get(url, bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]
        assert response.json()["fields"]


def test_items_page_shows_the_table_and_escapes_text(client, project, owner, annotator, browse):
    services.import_items(
        project,
        owner,
        csv_bytes([{"id": "x1", "text": "<script>alert(1)</script>"}], ["id", "text"]),
        "x.csv",
    )
    client.force_login(owner)
    response = client.get(reverse("labeling:items", args=[project.slug]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "<th>Split</th>" in html
    assert "<th>source</th>" in html
    client.force_login(annotator)
    html = client.get(reverse("labeling:items", args=[project.slug])).content.decode()
    assert "Split" not in html
    assert "r0" in html
    assert "r3" not in html
    assert client.get(reverse("labeling:items", args=[project.slug]), {"cursor": "bad"}).status_code == 400


def test_items_page_links_next_and_previous(client, project, owner, browse):
    client.force_login(owner)
    url = reverse("labeling:items", args=[project.slug])
    services.import_items(
        project,
        owner,
        csv_bytes([{"id": f"n{i}", "text": f"extra {i}"} for i in range(60)], ["id", "text"]),
        "more.csv",
    )
    first = client.get(url)
    assert first.context["next_query"]
    assert first.context["previous_query"] is None
    second = client.get(url + "?" + first.context["next_query"])
    assert len(second.context["rows"]) == 18
    assert second.context["previous_query"]
    assert "Items</a>" in first.content.decode()


@pytest.mark.parametrize(
    ("sort", "expected"), [("recent", ["r2", "r1", "r0"]), ("priority", ["r5", "r7", "r6"])]
)
def test_cursors_of_time_and_float_keys_walk_one_row_at_a_time(project, owner, browse, sort, expected):
    seen, cursor = [], ""
    for _ in range(len(expected)):
        page = item_browser.browse_items(
            project, owner, {"sort": sort}, admin=True, cursor=cursor, page_size=1
        )
        seen += [item.external_id for item in page.items]
        cursor = page.next_cursor
    assert seen == expected
    assert cursor is None


@pytest.mark.parametrize("window", [1, 2, 3, 5, 100])
def test_a_search_gives_the_same_pages_whatever_its_first_window(project, owner, browse, monkeypatch, window):
    """A search in id order looks among the next SEARCH_WINDOW items first: any window,
    full or not, gives the same pages forward and back."""
    from labeling.forms import ItemFilterForm

    monkeypatch.setattr(item_browser, "SEARCH_WINDOW", window)
    form = ItemFilterForm({"q": "service"}, project=project, admin=True)
    assert form.is_valid()

    def page(cursor: str = "") -> item_browser.Page:
        return item_browser.browse_items(
            project, owner, form.cleaned_data, admin=True, cursor=cursor, page_size=1
        )

    first = page()
    second = page(first.next_cursor)
    third = page(second.next_cursor)
    assert [p.items[0].external_id for p in (first, second, third)] == ["r0", "r1", "r5"]
    assert third.next_cursor is None
    assert [i.external_id for i in page(third.previous_cursor).items] == ["r1"]
    assert _ids(project, owner, {"q": "service"}) == ["r0", "r1", "r5"]
