"""Import: data flows in with the right shapes; every bad file is refused whole, with the row."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from labeling import counters, services
from labeling.importing import ImportRejected
from labeling.models import Annotation, ImportBatch, Item, Split
from labeling.splits import assign_split
from tests.factories import (
    api_client,
    csv_bytes,
    import_rows,
    jsonl_bytes,
    make_review_rows,
)


def _upload(client, project, data: bytes, name: str):
    url = f"/api/v1/projects/{project.pk}/imports"
    return client.post(url, {"file": SimpleUploadedFile(name, data)}, format="multipart")


def test_csv_import_creates_items_with_split_metadata_and_labels(project, owner):
    rows = [
        {"id": "a", "text": "great food", "label": "positive", "source": "web"},
        {"id": "b", "text": "awful food", "label": "", "source": "app"},
    ]
    response = _upload(api_client(owner), project, csv_bytes(rows), "reviews.csv")

    assert response.status_code == 201
    assert response.json()["imported"] == 2
    assert response.json()["labeled"] == 1
    assert response.json()["pool"] + response.json()["test"] == 2
    a = Item.objects.get(project=project, external_id="a")
    assert a.text == "great food"
    assert a.meta == {"source": "web"}
    assert a.label.name == "positive"
    assert a.label_origin == "import"
    b = Item.objects.get(project=project, external_id="b")
    assert b.label is None
    assert b.label_count == 0
    assert Annotation.objects.filter(item=a, origin="import").count() == 1
    batch = ImportBatch.objects.get(project=project)
    assert (batch.file_name, batch.rows, batch.labeled, batch.created_by) == ("reviews.csv", 2, 1, owner)


def test_jsonl_import_keeps_json_metadata_and_integer_ids(project, owner):
    rows = [{"id": 7, "text": "hello", "meta": {"lang": "en"}, "score": 0.5}]
    response = _upload(api_client(owner), project, jsonl_bytes(rows), "items.jsonl")

    assert response.status_code == 201
    item = Item.objects.get(project=project)
    assert item.external_id == "7"
    assert item.meta == {"meta": {"lang": "en"}, "score": 0.5}


def test_rows_without_id_get_a_stable_id_and_repeated_texts_are_kept(project):
    import_rows(project, [{"text": "same words"}, {"text": "same words"}, {"text": "other"}])

    ids = sorted(project.items.values_list("external_id", flat=True))
    assert len(ids) == 3
    assert len(set(ids)) == 3
    # Exact duplicates share a split, so one text never sits in pool and test at once.
    splits = set(project.items.filter(text="same words").values_list("split", flat=True))
    assert len(splits) == 1


def test_split_is_decided_by_hash_and_matches_the_test_fraction(owner):
    from tests.factories import make_project

    project = make_project(owner, test_fraction=0.25, seed=11)
    import_rows(project, [{"text": f"review number {i} of the shop"} for i in range(2000)])

    share = project.items.filter(split=Split.TEST).count() / project.items.count()
    assert 0.21 < share < 0.29
    item = project.items.first()
    assert item.split == assign_split(project.seed, item.content_hash, 0.25)


def test_split_never_changes_when_test_fraction_changes_later(project, items):
    before = dict(project.items.values_list("pk", "split"))
    project.test_fraction = 0.9
    project.save()
    import_rows(project, [{"id": "new", "text": "another review"}])

    after = dict(project.items.exclude(external_id="new").values_list("pk", "split"))
    assert before == after


BAD_FILES = [
    ("no text column", "a.csv", b"id,body\n1,hello\n", None, "no 'text' column"),
    ("empty text", "a.csv", b"id,text\n1,hello\n2,   \n", 3, "'text' is empty"),
    ("unknown label", "a.csv", b"text,label\nhello,positive\nbye,neutral\n", 3, "label 'neutral' is not one"),
    ("duplicate id in file", "a.csv", b"id,text\n1,hello\n1,bye\n", 3, "id '1' repeats row 2"),
    ("undecodable bytes", "a.csv", b"id,text\n1,hello\n2,caf\xe9\n", 3, "not valid UTF-8"),
    ("binary file", "a.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "binary data"),
    ("wrong extension", "a.xlsx", b"text\nhello\n", None, "not a CSV or JSONL file"),
    ("empty file", "a.csv", b"", None, "empty"),
    ("header only", "a.csv", b"id,text\n", None, "no rows"),
    ("ragged csv row", "a.csv", b"id,text\n1,hello\n2,bye,extra\n", 3, "has 3 fields"),
    ("bad json line", "a.jsonl", b'{"text": "ok"}\n{"text": \n', 2, "not valid JSON"),
    ("json not an object", "a.jsonl", b'{"text": "ok"}\n["x"]\n', 2, "must be a JSON object"),
    ("json text not a string", "a.jsonl", b'{"text": 5}\n', 1, "must be a string"),
    ("json missing text", "a.jsonl", b'{"body": "x"}\n', 1, "has no 'text'"),
]


@pytest.mark.parametrize(("case", "name", "data", "row", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file_is_refused_whole_with_the_row_and_problem(project, owner, case, name, data, row, message):
    import_rows(project, [{"id": "existing", "text": "already here"}])
    response = _upload(api_client(owner), project, data, name)

    assert response.status_code == 400
    body = response.json()
    reported = body["error"] + " ".join(r["error"] for r in body.get("rows", []))
    assert message in reported
    if row is not None:
        assert row in [r["row"] for r in body["rows"]]
    assert project.items.count() == 1
    assert ImportBatch.objects.filter(project=project).count() == 1


def test_id_already_in_project_is_refused_and_nothing_else_from_the_file_lands(project):
    import_rows(project, [{"id": "x1", "text": "first"}])
    with pytest.raises(ImportRejected) as caught:
        services.import_items(
            project, None, csv_bytes([{"id": "x2", "text": "ok"}, {"id": "x1", "text": "again"}]), "b.csv"
        )

    assert caught.value.rows == [{"row": 3, "error": "id 'x1' already exists in this project"}]
    assert set(project.items.values_list("external_id", flat=True)) == {"x1"}


def test_reimporting_a_file_without_ids_is_refused(project):
    data = csv_bytes([{"text": "one"}, {"text": "two"}])
    services.import_items(project, None, data, "a.csv")
    with pytest.raises(ImportRejected, match="2 rows have problems"):
        services.import_items(project, None, data, "a.csv")
    assert project.items.count() == 2


def test_every_bad_row_is_reported_not_just_the_first(project):
    data = b"text,label\n,positive\nok,nope\nfine,\n"
    with pytest.raises(ImportRejected) as caught:
        services.import_items(project, None, data, "a.csv")
    assert [r["row"] for r in caught.value.rows] == [2, 3]


def test_import_page_shows_row_errors_and_imports_nothing(client, project, owner):
    client.force_login(owner)
    url = reverse("learners:project-import", args=[project.slug])
    upload = SimpleUploadedFile("bad.csv", b"text,label\nhello,maybe\n")
    response = client.post(url, {"file": upload})

    assert response.status_code == 400
    assert b"row 2" in response.content
    assert b"label &#x27;maybe&#x27; is not one" in response.content
    assert project.items.count() == 0


def test_import_page_imports_and_redirects(client, project, owner):
    client.force_login(owner)
    url = reverse("learners:project-import", args=[project.slug])
    response = client.post(url, {"file": SimpleUploadedFile("ok.csv", csv_bytes(make_review_rows(5)))})

    assert response.status_code == 302
    assert project.items.count() == 5


def test_import_command_imports_and_reports_counts(project, tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_bytes(jsonl_bytes(make_review_rows(10, labeled=4)))
    out = io.StringIO()
    call_command("import_items", project.slug, str(path), stdout=out)

    assert "Imported 10 items" in out.getvalue()
    assert project.items.filter(label__isnull=False).count() == 4


def test_import_command_names_the_bad_row(project, tmp_path):
    path = tmp_path / "items.csv"
    path.write_bytes(b"text,label\nfine,positive\nbad,unknown\n")
    with pytest.raises(CommandError, match="row 3: label 'unknown'"):
        call_command("import_items", project.slug, str(path))
    assert project.items.count() == 0


def test_import_command_rejects_unknown_project_and_missing_file(project, tmp_path):
    with pytest.raises(CommandError, match="no project 'nope'"):
        call_command("import_items", "nope", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_items", project.slug, str(tmp_path / "missing.csv"))


def test_a_file_changed_after_its_check_fails_in_a_later_chunk_and_nothing_is_imported(
    project, tmp_path, monkeypatch
):
    # The second read's rows are parsed a chunk ahead in a thread (services._ahead) while the
    # earlier chunks are written: an error there must still reach the command and roll back.
    path = tmp_path / "items.csv"
    rows = make_review_rows(120, labeled=30)
    path.write_bytes(csv_bytes(rows, ["id", "text", "label"]))
    rows[100]["label"] = "unknown"
    changed = csv_bytes(rows, ["id", "text", "label"])
    real_check = services.check_upload

    def check_then_change(upload, *args, **kwargs):
        summary = real_check(upload, *args, **kwargs)
        with path.open("r+b") as f:  # the same file the command has open
            f.write(changed)
            f.truncate()
        return summary

    monkeypatch.setattr(services, "check_upload", check_then_change)
    monkeypatch.setattr(services, "IMPORT_CHUNK", 25)  # rows 1-100 are written before row 101 is read
    with pytest.raises(CommandError, match="The file changed while it was imported"):
        call_command("import_items", project.slug, str(path))

    assert project.items.count() == 0
    assert not Annotation.objects.filter(item__project=project).exists()
    assert not ImportBatch.objects.filter(project=project).exists()
    tallies = counters.summary(project)
    assert tallies["splits"] == dict.fromkeys(Split.values, 0)
    assert tallies["annotations"] == 0
