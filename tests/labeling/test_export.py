"""Export: every labeled item once, with its resolved label, split, who and when; CSV and JSONL
through the API, the page and `manage.py export_dataset`, all the same bytes."""

import csv
import io
import json
from datetime import datetime

import pytest
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from labeling import services
from labeling.exports import EXPORT_COLUMNS
from labeling.models import Annotation, Split
from tests.factories import add_member, api_client, csv_bytes, import_rows, make_project, make_user

TRICKY = 'He said "no, thanks",\nthen left — naïve café 🙂, 日本語; a\tTab,\r\nCRLF and a trailing quote"'


def _label(item, user, name: str | None):
    label = item.project.labels.get(name=name) if name else None
    return services.save_annotation(item, user, label)[0]


def _api_export(user, project, fmt: str) -> bytes:
    response = api_client(user).get(f"/api/v1/projects/{project.pk}/export?format={fmt}")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.fixture
def labeled(project, owner, annotator):
    """Three items: one labeled at import, one labeled by a person, one unlabeled."""
    import_rows(
        project,
        [
            {"id": "imported", "text": "great food", "label": "positive"},
            {"id": "by-hand", "text": TRICKY, "label": ""},
            {"id": "untouched", "text": "nobody labels this", "label": ""},
        ],
        user=owner,
    )
    _label(project.items.get(external_id="by-hand"), annotator, "negative")
    return project


def test_csv_export_has_the_columns_and_one_row_per_labeled_item(labeled, owner):
    data = _api_export(owner, labeled, "csv")

    assert data.decode().splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert EXPORT_COLUMNS == [
        "id",
        "text",
        "label",
        "split",
        "labeled_by",
        "labeled_at",
        "annotations",
        "meta",
    ]
    rows = {row["id"]: row for row in _csv_rows(data)}
    assert set(rows) == {"imported", "by-hand"}
    assert rows["imported"]["label"] == "positive"
    assert rows["imported"]["labeled_by"] == "import"
    hand = labeled.items.get(external_id="by-hand")
    assert rows["by-hand"]["label"] == "negative"
    assert rows["by-hand"]["split"] == hand.split
    assert rows["by-hand"]["labeled_by"] == "bob"
    assert rows["by-hand"]["annotations"] == "1"
    assert rows["by-hand"]["meta"] == "{}"
    annotation = Annotation.objects.get(item=hand)
    assert datetime.fromisoformat(rows["by-hand"]["labeled_at"]) == annotation.created_at


def test_text_with_commas_quotes_newlines_and_unicode_round_trips_through_csv(labeled, owner):
    rows = {row["id"]: row for row in _csv_rows(_api_export(owner, labeled, "csv"))}
    assert rows["by-hand"]["text"] == TRICKY


def test_jsonl_export_has_the_same_rows_as_json_objects(labeled, owner):
    lines = _api_export(owner, labeled, "jsonl").decode().splitlines()
    records = {record["id"]: record for record in map(json.loads, lines)}

    assert set(records) == {"imported", "by-hand"}
    assert list(records["by-hand"]) == sorted(EXPORT_COLUMNS)
    assert records["by-hand"]["text"] == TRICKY
    assert records["by-hand"]["label"] == "negative"
    assert records["by-hand"]["annotations"] == 1
    assert records["imported"]["meta"] == {}


def test_metadata_is_exported_as_json(project, owner, annotator):
    data = csv_bytes([{"id": "m", "text": "with meta", "label": "positive", "source": "web"}])
    services.import_items(project, owner, data, "meta.csv")
    rows = _csv_rows(_api_export(owner, project, "csv"))
    assert json.loads(rows[0]["meta"]) == {"source": "web"}


def test_test_items_are_exported_with_their_split(owner):
    project = make_project(owner, name="All test", test_fraction=0.9, seed=3)
    import_rows(project, [{"id": f"t{i}", "text": f"text {i}", "label": "positive"} for i in range(20)])
    rows = _csv_rows(_api_export(owner, project, "csv"))

    splits = {row["id"]: row["split"] for row in rows}
    assert splits == dict(project.items.values_list("external_id", "split"))
    assert Split.TEST in splits.values()


def test_a_correction_changes_the_exported_label_and_keeps_both_annotations(labeled, owner, annotator):
    item = labeled.items.get(external_id="by-hand")
    _label(item, annotator, "positive")

    rows = {row["id"]: row for row in _csv_rows(_api_export(owner, labeled, "csv"))}
    assert rows["by-hand"]["label"] == "positive"
    assert rows["by-hand"]["labeled_by"] == "bob"
    assert rows["by-hand"]["annotations"] == "2"
    kept = Annotation.objects.filter(item=item, user=annotator).order_by("pk")
    assert [a.label.name for a in kept] == ["negative", "positive"]


def test_an_undone_label_drops_the_item_from_the_export(labeled, owner, annotator):
    _label(labeled.items.get(external_id="by-hand"), annotator, None)

    rows = _csv_rows(_api_export(owner, labeled, "csv"))
    assert [row["id"] for row in rows] == ["imported"]
    assert Annotation.objects.filter(item__external_id="by-hand").count() == 2


def test_the_majority_of_annotators_decides_the_exported_label(project, owner, annotator):
    project.overlap = 3
    project.save(update_fields=["overlap"])
    import_rows(project, [{"id": "x", "text": "hard to tell"}])
    item = project.items.get()
    carol, dave = make_user("carol"), make_user("dave")
    for user in (carol, dave):
        add_member(project, user)
    _label(item, annotator, "positive")
    _label(item, carol, "negative")
    _label(item, dave, "negative")

    (row,) = _csv_rows(_api_export(owner, project, "csv"))
    assert row["label"] == "negative"
    assert row["labeled_by"] == "bob;carol;dave"
    assert row["annotations"] == "3"
    latest = Annotation.objects.filter(item=item).latest("pk")
    assert datetime.fromisoformat(row["labeled_at"]) == latest.created_at


def test_api_export_streams_with_a_download_name(labeled, owner):
    response = api_client(owner).get(f"/api/v1/projects/{labeled.pk}/export?format=jsonl")

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "application/x-ndjson"
    watermark = services.get_label_watermark(labeled)
    assert response["Content-Disposition"] == (
        f'attachment; filename="{labeled.slug}-labels-upto-{watermark}.jsonl"'
    )


def test_api_export_defaults_to_csv(labeled, owner):
    response = api_client(owner).get(f"/api/v1/projects/{labeled.pk}/export")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(response.streaming_content) == _api_export(owner, labeled, "csv")


def test_api_export_refuses_an_unknown_format_with_a_json_error(labeled, owner):
    response = api_client(owner).get(f"/api/v1/projects/{labeled.pk}/export?format=xlsx")

    assert response.status_code == 400
    assert response.json() == {"error": "Unknown format 'xlsx'; choose one of: csv, jsonl."}


def test_page_export_streams_the_same_bytes_as_the_api(labeled, owner):
    client = Client()
    client.force_login(owner)
    for fmt in ("csv", "jsonl"):
        response = client.get(reverse("labeling:project-export", args=[labeled.slug]), {"format": fmt})
        assert isinstance(response, StreamingHttpResponse)
        assert response["Content-Disposition"].startswith("attachment;")
        assert b"".join(response.streaming_content) == _api_export(owner, labeled, fmt)


def test_page_export_refuses_an_unknown_format(labeled, owner):
    client = Client()
    client.force_login(owner)
    response = client.get(reverse("labeling:project-export", args=[labeled.slug]), {"format": "xml"})
    assert response.status_code == 400
    assert b"Unknown export format 'xml'" in response.content


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_command_writes_the_same_bytes_as_the_api(labeled, owner, tmp_path, fmt):
    path = tmp_path / f"labels.{fmt}"
    err = io.StringIO()
    call_command("export_dataset", labeled.slug, "--format", fmt, "-o", str(path), stderr=err)

    assert path.read_bytes() == _api_export(owner, labeled, fmt)
    assert f"Wrote {path}" in err.getvalue()


def test_export_command_writes_to_stdout_without_o(labeled, owner, capsysbinary):
    call_command("export_dataset", labeled.slug, "--format", "csv")
    assert capsysbinary.readouterr().out == _api_export(owner, labeled, "csv")


def test_export_command_refuses_unknown_project_format_and_unwritable_file(labeled, tmp_path):
    with pytest.raises(CommandError, match="no project 'nope'"):
        call_command("export_dataset", "nope", "-o", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="invalid choice: 'xml'"):
        call_command("export_dataset", labeled.slug, "--format", "xml")
    with pytest.raises(CommandError, match="Cannot write"):
        call_command("export_dataset", labeled.slug, "-o", str(tmp_path / "missing-dir" / "x.csv"))
    assert not (tmp_path / "x.csv").exists()


def test_an_empty_project_exports_only_the_header(project, owner):
    assert _api_export(owner, project, "csv") == (",".join(EXPORT_COLUMNS) + "\n").encode()
    assert _api_export(owner, project, "jsonl") == b""
