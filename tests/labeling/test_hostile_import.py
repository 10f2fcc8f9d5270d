"""Hostile files: each is a clear 400 naming the row and the problem, from the API, the page
and `import_items` alike, with nothing imported and work linear in the file's size."""

import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import connections
from django.urls import reverse

from labeling import importing
from labeling.models import ImportBatch
from tests.factories import api_client, import_rows


def _padding_rows(n_bytes: int) -> bytes:
    return b"".join(b"p%d,padding row number %d\n" % (i, i) for i in range(n_bytes // 24 + 1))


def _nul_after_8kb() -> bytes:
    return b"id,text\n" + _padding_rows(9000) + b"bad,has a \x00 inside\n"


def _deep(levels: int) -> bytes:
    return b'{"text": "ok", "meta": ' + b"[" * levels + b"]" * levels + b"}\n"


def _columns(n: int) -> bytes:
    header = "text," + ",".join(f"c{i}" for i in range(n - 1))
    return f"{header}\nhello{',' * (n - 1)}\n".encode()


# (case, file name, bytes, row named or None, message part without quotes)
HOSTILE = [
    ("nul byte after 8 KB", "a.csv", _nul_after_8kb(), len(_padding_rows(9000).splitlines()) + 2, "NUL byte"),
    ("json \\u0000", "a.jsonl", b'{"text": "ok"}\n{"text": "a\\u0000b"}\n', 2, "NUL character"),
    ("lone surrogate", "a.jsonl", b'{"text": "ok", "note": "\\ud800"}\n', 1, "lone surrogate"),
    ("lone surrogate key", "a.jsonl", b'{"text": "ok", "\\udfff": 1}\n', 1, "lone surrogate"),
    ("NaN in meta", "a.jsonl", b'{"text": "ok", "score": NaN}\n', 1, "NaN is not a JSON number"),
    (
        "Infinity in meta",
        "a.jsonl",
        b'{"text": "ok", "score": -Infinity}\n',
        1,
        "Infinity is not a JSON number",
    ),
    ("nested 100,000 deep", "a.jsonl", _deep(100_000), 1, "nested too deeply"),
    ("nested 25 deep", "a.jsonl", _deep(25), 1, "nested too deeply"),
    ("huge integer", "a.jsonl", b'{"text": "ok", "n": ' + b"9" * 5000 + b"}\n", 1, "5,000 digits"),
    (
        "utf-16 with BOM",
        "a.csv",
        "id,text\n1,hello\n".encode("utf-16"),
        None,
        "UTF-16 text; save it as UTF-8",
    ),
    ("utf-16 without BOM", "a.csv", "id,text\n1,hello\n".encode("utf-16-le"), None, "save it as UTF-8"),
    ("utf-16 big endian", "a.jsonl", '{"text": "hi"}\n'.encode("utf-16-be"), None, "save it as UTF-8"),
    ("100,000 columns", "a.csv", _columns(100_000), None, "100,000 columns; at most 1,000"),
    ("line over 2 MB", "a.jsonl", b'{"text": "' + b"x" * (3 * 1024 * 1024) + b'"}\n', 1, "longer than 2 MB"),
    (
        "csv field over limit",
        "a.csv",
        b'text\n"' + b"y" * 500_000 + b'"\n',
        2,
        "field larger than field limit",
    ),
    ("text too long", "a.csv", b"text\n" + b"z" * 100_001 + b"\n", 2, "is longer than 100,000 characters"),
]


def _ids(cases):
    return [case[0] for case in cases]


def _assert_nothing_imported(project) -> None:
    assert project.items.count() == 1  # the one row imported before
    assert ImportBatch.objects.filter(project=project).count() == 1


@pytest.fixture
def seeded(project):
    import_rows(project, [{"id": "existing", "text": "already here"}])
    return project


@pytest.mark.parametrize(("case", "name", "data", "row", "message"), HOSTILE, ids=_ids(HOSTILE))
def test_api_refuses_hostile_file_with_row_and_problem(
    seeded, owner, settings, case, name, data, row, message
):
    # Every case inline (the 2 MB line too): a file imported by a job reports the same errors
    # in the job's result (tests/learners/test_import_jobs.py).
    settings.SIFT_IMPORT_INLINE_BYTES = 8 * 1024 * 1024
    url = f"/api/v1/projects/{seeded.pk}/imports"
    response = api_client(owner).post(url, {"file": SimpleUploadedFile(name, data)}, format="multipart")

    assert response.status_code == 400
    body = response.json()
    reported = body["error"] + " ".join(r["error"] for r in body["rows"])
    assert message in reported
    if row is not None:
        assert [r["row"] for r in body["rows"]] == [row]
    assert len(response.content) < 2_000  # no echo of the hostile content
    _assert_nothing_imported(seeded)


@pytest.mark.parametrize(("case", "name", "data", "row", "message"), HOSTILE, ids=_ids(HOSTILE))
def test_page_refuses_hostile_file_with_row_and_problem(
    client, seeded, owner, settings, case, name, data, row, message
):
    settings.SIFT_IMPORT_INLINE_BYTES = 8 * 1024 * 1024  # every case inline, as above
    client.force_login(owner)
    url = reverse("learners:project-import", args=[seeded.slug])
    response = client.post(url, {"file": SimpleUploadedFile(name, data)})

    assert response.status_code == 400
    assert message in response.content.decode()
    if row is not None:
        assert f"row {row}" in response.content.decode()
    _assert_nothing_imported(seeded)


@pytest.mark.parametrize(("case", "name", "data", "row", "message"), HOSTILE, ids=_ids(HOSTILE))
def test_command_refuses_hostile_file_with_one_clear_error(seeded, tmp_path, case, name, data, row, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CommandError) as caught:
        call_command("import_items", seeded.slug, str(path))

    text = str(caught.value)
    assert message in text
    if row is not None:
        assert f"row {row}:" in text
    assert "Traceback" not in text
    _assert_nothing_imported(seeded)


@pytest.mark.parametrize(("case", "name", "data", "row", "message"), HOSTILE[:4], ids=_ids(HOSTILE[:4]))
def test_command_line_prints_the_error_and_exits_1(
    seeded, tmp_path, capsys, monkeypatch, case, name, data, row, message
):
    # As from a shell: Django prints a CommandError as one line on stderr and exits 1.
    monkeypatch.setattr(connections, "close_all", lambda: None)  # run_from_argv's; the test needs the db
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "import_items", seeded.slug, str(path)]).execute()

    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert err.startswith(f"CommandError: {name}: ")
    assert message in err
    assert "Traceback" not in err
    _assert_nothing_imported(seeded)


def test_column_checks_are_linear_in_the_header(seeded, settings, monkeypatch):
    # 100,000 columns with no cap: the old header.count() per column took minutes.
    monkeypatch.setattr(importing, "MAX_COLUMNS", 200_000)
    data = _columns(100_000).replace(b",c99998", b",c0")
    started = time.perf_counter()
    with pytest.raises(importing.ImportRejected, match="repeats column"):
        importing.check_upload(io.BytesIO(data), "wide.csv", None)
    assert time.perf_counter() - started < 5


def test_too_many_rows_is_refused_with_the_limit(seeded, owner, settings):
    settings.SIFT_MAX_IMPORT_ROWS = 3
    data = b"text\n" + b"".join(b"row %d\n" % i for i in range(5))
    url = f"/api/v1/projects/{seeded.pk}/imports"
    response = api_client(owner).post(url, {"file": SimpleUploadedFile("a.csv", data)}, format="multipart")

    assert response.status_code == 400
    assert "more than 3 rows" in response.json()["error"]
    _assert_nothing_imported(seeded)


def test_huge_unknown_label_is_not_echoed_back(seeded, owner):
    data = b"text,label\nhello," + b"L" * 300_000 + b"\n"
    url = f"/api/v1/projects/{seeded.pk}/imports"
    response = api_client(owner).post(url, {"file": SimpleUploadedFile("a.csv", data)}, format="multipart")

    assert response.status_code == 400
    assert "is not one of the project" in response.json()["rows"][0]["error"]
    assert len(response.content) < 1_000
    _assert_nothing_imported(seeded)


def test_a_file_on_disk_is_read_line_by_line_and_imports(seeded, owner, settings):
    # Beyond FILE_UPLOAD_MAX_MEMORY_SIZE the upload sits in a temporary file on disk;
    # the importer reads it twice from there and never as one bytes object.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100_000
    rows = b"".join(b"r%d,a review of the shop number %d with some words\n" % (i, i) for i in range(5_000))
    data = b"id,text\n" + rows
    assert len(data) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    url = f"/api/v1/projects/{seeded.pk}/imports"
    response = api_client(owner).post(url, {"file": SimpleUploadedFile("big.csv", data)}, format="multipart")

    assert response.status_code == 201
    assert response.json()["imported"] == 5_000
    assert seeded.items.count() == 5_001


def test_a_file_that_changes_between_the_two_reads_is_a_clear_error():
    # iter_rows re-reads what check_upload accepted; here the "second read" meets a bad row.
    changed = io.BytesIO(b"text,label\nfine,\nnow bad,unknown\n")
    with pytest.raises(importing.ImportRejected) as caught:
        list(importing.iter_rows(changed, "a.csv", {"positive"}))

    assert caught.value.message == "The file changed while it was imported; nothing was imported."
    assert caught.value.rows[0]["row"] == 3
