"""CSV exports are safe to open in a spreadsheet; JSONL and Parquet keep the raw text."""

import csv
import hashlib
import io
import json

import pyarrow.parquet as pq
import pytest

from labeling.exports import spreadsheet_safe
from tests.factories import api_client, jsonl_bytes, make_project

FORMULAS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "\tTAB=1", "\rCR=1", '=HYPERLINK("http://x")']
SAFE = ["plain", "a=b", "1-2", "", "'quoted"]


@pytest.mark.parametrize("value", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(value):
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", SAFE)
def test_other_cells_are_left_as_they_are(value):
    assert spreadsheet_safe(value) == value


@pytest.fixture
def formulas(owner):
    project = make_project(owner, name="Formulas", labels=("=label", "-label", "plain"))
    rows = [
        {"id": f"@id{i}" if i % 2 else f"id{i}", "text": text, "label": ("=label", "-label")[i % 2]}
        for i, text in enumerate(FORMULAS)
    ]
    from labeling import services

    services.import_items(project, owner, jsonl_bytes(rows), "formulas.jsonl")
    return project, rows


def _get(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def _assert_no_cell_is_a_formula(data: bytes) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    for row in rows:
        for column in ("id", "text", "label", "labeled_by"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), (column, row[column])
    return rows


def test_csv_export_neutralises_formula_cells(formulas, owner):
    project, rows = formulas
    data = _get(api_client(owner), f"/api/v1/projects/{project.pk}/export?format=csv")

    exported = {row["id"]: row for row in _assert_no_cell_is_a_formula(data)}
    assert len(exported) == len(FORMULAS)
    for source in rows:
        cell = exported[spreadsheet_safe(source["id"])]
        assert cell["text"] == "'" + source["text"]
        assert cell["label"] == "'" + source["label"]


def test_jsonl_export_keeps_the_raw_text(formulas, owner):
    project, rows = formulas
    data = _get(api_client(owner), f"/api/v1/projects/{project.pk}/export?format=jsonl")

    exported = {r["id"]: r for r in map(json.loads, data.decode().splitlines())}
    assert {(r["id"], r["text"], r["label"]) for r in rows} == {
        (r["id"], r["text"], r["label"]) for r in exported.values()
    }


def test_dataset_version_csv_is_safe_and_still_matches_its_sha256(formulas, owner):
    project, _ = formulas
    client = api_client(owner)
    version = client.post(f"/api/v1/projects/{project.pk}/versions", {}, format="json").json()
    base = f"/api/v1/projects/{project.pk}/versions/{version['number']}/export?format="

    as_csv = _get(client, base + "csv")
    _assert_no_cell_is_a_formula(as_csv)
    assert hashlib.sha256(as_csv).hexdigest() == version["sha256"]
    assert _get(client, base + "csv") == as_csv  # byte for byte, every time
    table = pq.read_table(io.BytesIO(_get(client, base + "parquet"))).to_pylist()
    assert sorted(r["text"] for r in table) == sorted(FORMULAS)
