"""Two bulk actions of the items browser: download the selection (CSV or JSONL through the
export's streaming writers, formulas neutralised in CSV) and send it to adjudication."""

import csv
import io
import json

import pytest
from django.urls import reverse

from labeling import adjudication, services
from labeling.models import Item
from tests.factories import api_client, import_rows

EXPORT = "/api/v1/projects/{}/items/export"
BULK = "/api/v1/projects/{}/items/bulk"


@pytest.fixture
def rows(project):
    import_rows(
        project,
        [
            {"id": "a1", "text": "refund please", "label": "positive"},
            {"id": "=cmd", "text": '=HYPERLINK("http://x") refund', "label": ""},
            {"id": "a3", "text": "-2 stars, no refund", "label": "negative"},
            {"id": "a4", "text": "all good here", "label": ""},
        ],
    )
    return {item.external_id: item for item in project.items.all()}


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_export_of_a_filter_streams_every_match_labeled_or_not_with_formulas_neutralised(
    project, owner, rows
):
    response = api_client(owner).post(EXPORT.format(project.pk), {"filter": {"q": "refund"}}, format="json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"{project.slug}-selection.csv" in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(_body(response))))
    by_id = {row["id"]: row for row in table}
    assert set(by_id) == {"a1", "'=cmd", "a3"}
    assert by_id["'=cmd"]["text"] == '\'=HYPERLINK("http://x") refund'
    assert by_id["'=cmd"]["label"] == ""
    assert by_id["a3"]["text"] == "'-2 stars, no refund"
    assert by_id["a3"]["label"] == "negative"
    assert by_id["a1"]["label_origin"] == "import"
    assert json.loads(by_id["a1"]["meta"]) == {}


def test_export_of_chosen_ids_as_jsonl_keeps_the_raw_text(project, owner, rows):
    ids = [rows["=cmd"].pk, rows["a4"].pk]
    response = api_client(owner).post(
        EXPORT.format(project.pk), {"ids": ids, "format": "jsonl"}, format="json"
    )
    assert response.status_code == 200
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert [line["id"] for line in lines] == ["=cmd", "a4"]
    assert lines[0]["text"].startswith("=HYPERLINK")
    assert lines[1]["label"] == ""
    assert lines[1]["labeled_at"] == ""


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": [1], "filter": {}},
        {"filter": {"sort": "nonsense"}},
        {"filter": {}, "format": "xlsx"},
    ],
)
def test_bad_export_requests_are_a_400(project, owner, rows, body):
    response = api_client(owner).post(EXPORT.format(project.pk), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]


def test_ids_of_another_project_or_an_annotator_cannot_export(project, owner, annotator, rows):
    response = api_client(owner).post(EXPORT.format(project.pk), {"ids": [10**9]}, format="json")
    assert response.status_code == 400
    assert "not items of this project" in response.json()["error"]
    forbidden = api_client(annotator).post(EXPORT.format(project.pk), {"filter": {}}, format="json")
    assert forbidden.status_code in (403, 404)


def test_send_to_adjudication_puts_items_in_the_queue_until_an_admin_decides(project, owner, annotator, rows):
    ids = [rows["a1"].pk, rows["a4"].pk]
    response = api_client(owner).post(
        BULK.format(project.pk), {"action": "adjudicate", "ids": ids}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"action": "adjudicate", "selected": 2, "changed": 2, "bulk_action": None}
    assert {review.item.external_id for review in adjudication.list_conflicts(project)} == {"a1", "a4"}
    again = api_client(owner).post(
        BULK.format(project.pk), {"action": "adjudicate", "ids": ids}, format="json"
    )
    assert again.json()["changed"] == 0
    adjudication.adjudicate_item(rows["a4"], owner, project.labels.get(name="negative"))
    assert [review.item.external_id for review in adjudication.list_conflicts(project)] == ["a1"]
    assert Item.objects.get(pk=rows["a4"].pk).label.name == "negative"
    refused = api_client(annotator).post(
        BULK.format(project.pk), {"action": "adjudicate", "ids": ids}, format="json"
    )
    assert refused.status_code in (403, 404)


def test_items_page_confirms_then_downloads_or_sends_to_adjudication(client, project, owner, rows):
    client.force_login(owner)
    url = reverse("labeling:items-bulk", args=[project.slug])
    base = {"query": "q=refund", "scope": "filter"}
    preview = client.post(url, {**base, "action": "export", "format": "jsonl"})
    assert preview.status_code == 200
    assert "JSONL download" in preview.content.decode()
    download = client.post(url, {**base, "action": "export", "format": "jsonl", "confirm": "yes"})
    assert download["Content-Type"] == "application/x-ndjson"
    assert len(_body(download).splitlines()) == 3
    sent = client.post(url, {**base, "action": "adjudicate", "confirm": "yes"}, follow=True)
    assert "3 items sent to adjudication" in sent.content.decode()
    assert adjudication.count_conflicts(project) == 3
    services.save_annotation(rows["a4"], owner, project.labels.get(name="positive"))
    assert adjudication.count_conflicts(project) == 3
