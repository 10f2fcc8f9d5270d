"""Dataset versions: snapshot, list, reproducible exports in three formats, diff; API, pages, commands."""

import csv
import hashlib
import io
import json

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from labeling import services, versions
from labeling.exports import iter_dataset_rows
from labeling.models import DatasetVersion, Origin
from tests.factories import api_client, import_rows, make_review_rows


@pytest.fixture
def labeled(project):
    """20 items, the first 10 labeled by import."""
    import_rows(project, make_review_rows(20, labeled=10))
    return project


def _items(project):
    return list(project.items.order_by("pk"))


def _label(project, name):
    return project.labels.get(name=name)


def _snapshot(client, project, note="") -> dict:
    response = client.post(f"/api/v1/projects/{project.pk}/versions", {"note": note}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _export(client, project, number, fmt="csv") -> bytes:
    response = client.get(f"/api/v1/projects/{project.pk}/versions/{number}/export?format={fmt}")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def test_snapshot_api_returns_number_sha256_and_counts(labeled, owner):
    client = api_client(owner)
    body = _snapshot(client, labeled, note="before the relabeling")

    assert body["number"] == 1
    assert body["note"] == "before the relabeling"
    assert body["created_by"] == "alice"
    assert body["parent"] is None
    counts = body["counts"]
    assert counts["total"] == 10
    assert counts["split"]["pool"] + counts["split"].get("test", 0) == 10
    assert sum(sum(per.values()) for per in counts["label"].values()) == 10
    assert hashlib.sha256(_export(client, labeled, 1)).hexdigest() == body["sha256"]
    second = _snapshot(client, labeled)
    assert second["number"] == 2
    assert second["parent"] == 1


def test_snapshot_is_for_project_admins_only(labeled, annotator, outsider):
    assert api_client(annotator).post(f"/api/v1/projects/{labeled.pk}/versions", {}).status_code == 403
    assert api_client(outsider).post(f"/api/v1/projects/{labeled.pk}/versions", {}).status_code == 404
    assert api_client().post(f"/api/v1/projects/{labeled.pk}/versions", {}).status_code in (401, 403)
    assert not DatasetVersion.objects.exists()


def test_a_too_long_note_is_refused_and_nothing_is_written(labeled, owner):
    response = api_client(owner).post(
        f"/api/v1/projects/{labeled.pk}/versions", {"note": "x" * 2001}, format="json"
    )
    assert response.status_code == 400
    assert "note" in response.json()["error"]
    assert not DatasetVersion.objects.exists()


def test_an_old_version_exports_the_same_bytes_after_more_labeling_and_corrections(labeled, owner, annotator):
    client = api_client(owner)
    v1 = _snapshot(client, labeled)
    first_bytes = _export(client, labeled, 1)
    items = _items(labeled)
    positive, negative = _label(labeled, "positive"), _label(labeled, "negative")
    services.save_annotation(items[12], annotator, positive)  # a new label
    services.save_annotation(items[0], annotator, negative)  # disagree with the import
    services.save_annotation(items[13], annotator, negative)
    services.save_annotation(items[13], annotator, positive)  # a correction
    services.save_annotation(items[14], annotator, positive)
    services.save_annotation(items[14], annotator, None)  # an undo
    services.save_annotation(items[1], owner, negative, origin=Origin.ADJUDICATION)
    v2 = _snapshot(client, labeled)

    assert v2["sha256"] != v1["sha256"]
    again = _export(client, labeled, 1)
    assert again == first_bytes
    assert hashlib.sha256(again).hexdigest() == v1["sha256"]
    listed = {v["number"]: v["sha256"] for v in client.get(f"/api/v1/projects/{labeled.pk}/versions").json()}
    assert listed == {1: v1["sha256"], 2: v2["sha256"]}
    assert hashlib.sha256(_export(client, labeled, 2)).hexdigest() == v2["sha256"]


def test_versions_are_listed_newest_first_for_every_member(labeled, owner, annotator, outsider):
    _snapshot(api_client(owner), labeled, note="one")
    _snapshot(api_client(owner), labeled, note="two")
    body = api_client(annotator).get(f"/api/v1/projects/{labeled.pk}/versions").json()
    assert [v["number"] for v in body] == [2, 1]
    assert [v["note"] for v in body] == ["two", "one"]
    assert {"number", "sha256", "created_at", "counts", "note"} <= set(body[0])
    assert api_client(outsider).get(f"/api/v1/projects/{labeled.pk}/versions").status_code == 404


def test_every_format_carries_the_same_rows_the_split_and_the_version(labeled, owner):
    client = api_client(owner)
    v1 = _snapshot(client, labeled)
    response = client.get(f"/api/v1/projects/{labeled.pk}/versions/1/export?format=parquet")
    assert response["Content-Disposition"] == 'attachment; filename="reviews-dataset-v1.parquet"'
    assert response["X-Sift-Dataset-Version"] == "1"
    assert response["X-Sift-Dataset-Sha256"] == v1["sha256"]

    rows_csv = list(csv.DictReader(io.StringIO(_export(client, labeled, 1).decode())))
    rows_jsonl = [json.loads(line) for line in _export(client, labeled, 1, "jsonl").decode().splitlines()]
    table = pq.read_table(io.BytesIO(b"".join(response.streaming_content)))
    rows_parquet = table.to_pylist()

    assert len(rows_csv) == len(rows_jsonl) == len(rows_parquet) == 10
    assert [r["id"] for r in rows_csv] == [r["id"] for r in rows_jsonl] == [r["id"] for r in rows_parquet]
    assert [r["split"] for r in rows_csv] == [r["split"] for r in rows_parquet]
    assert (
        [r["label"] for r in rows_csv]
        == [r["label"] for r in rows_jsonl]
        == [r["label"] for r in rows_parquet]
    )
    assert {r["split"] for r in rows_parquet} <= {"pool", "test"}
    metadata = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert metadata["sift.dataset_version"] == "1"
    assert metadata["sift.csv_sha256"] == v1["sha256"]
    assert metadata["sift.project"] == "reviews"


def test_export_errors(labeled, owner, annotator):
    _snapshot(api_client(owner), labeled)
    bad = api_client(owner).get(f"/api/v1/projects/{labeled.pk}/versions/1/export?format=xlsx")
    assert bad.status_code == 400
    assert "csv, jsonl, parquet" in bad.json()["error"]
    assert api_client(owner).get(f"/api/v1/projects/{labeled.pk}/versions/7/export").status_code == 404
    assert api_client(annotator).get(f"/api/v1/projects/{labeled.pk}/versions/1/export").status_code == 403


def test_parquet_is_written_one_row_group_at_a_time(labeled):
    rows = list(iter_dataset_rows(labeled, services.get_label_watermark(labeled)))
    chunks = list(versions.stream_parquet(iter(rows), {"sift.dataset_version": "3"}, row_group=3))
    data = b"".join(chunks)
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.num_row_groups == 4  # 10 rows in groups of 3
    assert len(chunks) == 5  # one chunk per row group as it is finished, then the footer
    assert all(chunks[:4])
    assert parquet.read().column("id").to_pylist() == [r.external_id for r in rows]


def test_diff_lists_added_changed_and_removed_items(labeled, owner, annotator):
    client = api_client(owner)
    items = _items(labeled)
    positive, negative = _label(labeled, "positive"), _label(labeled, "negative")
    services.save_annotation(items[15], annotator, positive)
    _snapshot(client, labeled)
    services.save_annotation(items[12], annotator, negative)  # added
    services.save_annotation(items[0], owner, negative, origin=Origin.ADJUDICATION)  # positive -> negative
    services.save_annotation(items[15], annotator, None)  # no longer labeled
    _snapshot(client, labeled)

    body = client.get(f"/api/v1/projects/{labeled.pk}/versions/1/diff/2").json()
    assert body["counts"] == {"added": 1, "changed": 1, "removed": 1, "unchanged": 9}
    assert [(e["id"], e["label"]) for e in body["added"]] == [("r12", "negative")]
    assert [(e["id"], e["from"], e["to"]) for e in body["changed"]] == [("r0", "positive", "negative")]
    assert [(e["id"], e["label"]) for e in body["removed"]] == [("r15", "positive")]
    assert body["transitions"] == [{"from": "positive", "to": "negative", "count": 1}]
    assert body["truncated"] is False

    back = client.get(f"/api/v1/projects/{labeled.pk}/versions/2/diff/1").json()
    assert [e["id"] for e in back["added"]] == ["r15"]
    assert [e["id"] for e in back["removed"]] == ["r12"]
    assert [(e["from"], e["to"]) for e in back["changed"]] == [("negative", "positive")]
    same = client.get(f"/api/v1/projects/{labeled.pk}/versions/2/diff/2").json()
    assert same["counts"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 11}


def test_diff_limit_cuts_the_lists_but_not_the_counts(labeled, owner, annotator):
    client = api_client(owner)
    _snapshot(client, labeled)
    for item in _items(labeled)[10:15]:
        services.save_annotation(item, annotator, _label(labeled, "positive"))
    _snapshot(client, labeled)
    body = client.get(f"/api/v1/projects/{labeled.pk}/versions/1/diff/2?limit=2").json()
    assert body["counts"]["added"] == 5
    assert len(body["added"]) == 2
    assert body["truncated"] is True
    assert client.get(f"/api/v1/projects/{labeled.pk}/versions/1/diff/2?limit=0").status_code == 400
    assert client.get(f"/api/v1/projects/{labeled.pk}/versions/1/diff/9").status_code == 404
    assert api_client(annotator).get(f"/api/v1/projects/{labeled.pk}/versions/1/diff/2").status_code == 403


def test_versions_page_snapshots_with_a_note_and_shows_a_diff(client, labeled, owner, annotator):
    client.force_login(owner)
    response = client.post(f"/projects/{labeled.slug}/versions/new", {"note": "baseline"})
    assert response.status_code == 302
    version = DatasetVersion.objects.get()
    assert (version.number, version.note, version.created_by) == (1, "baseline", owner)
    services.save_annotation(_items(labeled)[11], annotator, _label(labeled, "negative"))
    client.post(f"/projects/{labeled.slug}/versions/new", {"note": "after"})

    page = client.get(f"/projects/{labeled.slug}/versions/")
    assert page.status_code == 200
    assert b"baseline" in page.content
    assert version.sha256[:12].encode() in page.content
    pick = client.get(f"/projects/{labeled.slug}/versions/diff", {"a": 1, "b": 2})
    assert pick.status_code == 302
    assert pick["Location"] == f"/projects/{labeled.slug}/versions/1/diff/2/"
    diff = client.get(pick["Location"])
    assert diff.status_code == 200
    assert b"r11" in diff.content
    download = client.get(f"/projects/{labeled.slug}/versions/1/export?format=csv")
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == version.sha256


def test_versions_page_rights(client, labeled, owner, annotator, outsider):
    services.create_dataset_version(labeled, owner)
    client.force_login(annotator)
    assert client.get(f"/projects/{labeled.slug}/versions/").status_code == 200
    assert client.post(f"/projects/{labeled.slug}/versions/new", {"note": "x"}).status_code == 403
    assert client.get(f"/projects/{labeled.slug}/versions/1/export").status_code == 403
    assert client.get(f"/projects/{labeled.slug}/versions/1/diff/1/").status_code == 403
    assert DatasetVersion.objects.count() == 1
    client.force_login(outsider)
    assert client.get(f"/projects/{labeled.slug}/versions/").status_code == 404


def test_snapshot_command_and_export_of_a_version_as_parquet(labeled, tmp_path):
    out = io.StringIO()
    call_command("snapshot", labeled.slug, "--note", "from the shell", stdout=out)
    version = DatasetVersion.objects.get()
    assert version.note == "from the shell"
    assert "Dataset version 1: 10 labeled items" in out.getvalue()
    assert version.sha256 in out.getvalue()

    target = tmp_path / "v1.parquet"
    call_command("export_dataset", labeled.slug, "--version", "1", "--format", "parquet", "-o", str(target))
    table = pq.read_table(target)
    assert table.num_rows == 10
    assert table.schema.metadata[b"sift.dataset_version"] == b"1"
    as_csv = tmp_path / "v1.csv"
    call_command("export_dataset", labeled.slug, "--version", "1", "-o", str(as_csv))
    assert hashlib.sha256(as_csv.read_bytes()).hexdigest() == version.sha256

    with pytest.raises(CommandError, match="no dataset version 4 \\(it has 1–1\\)"):
        call_command("export_dataset", labeled.slug, "--version", "4", "-o", str(target))
    with pytest.raises(CommandError, match="no project"):
        call_command("snapshot", "nope")


def test_item_page_shows_every_annotation_to_admins_only(client, labeled, owner, annotator):
    item = _items(labeled)[0]
    services.save_annotation(item, annotator, _label(labeled, "negative"))
    client.force_login(owner)
    page = client.get(f"/projects/{labeled.slug}/items/{item.pk}/")
    assert page.status_code == 200
    assert b"bob" in page.content
    assert b"import" in page.content
    # The annotator who labeled it sees their own annotations only (tests/labeling/test_item_detail.py).
    client.force_login(annotator)
    own = client.get(f"/projects/{labeled.slug}/items/{item.pk}/")
    assert own.status_code == 200
    assert b"Your annotations" in own.content
    assert b'<td class="small">import</td>' not in own.content
