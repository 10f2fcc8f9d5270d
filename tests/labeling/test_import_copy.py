"""On PostgreSQL an import writes its items with COPY; elsewhere with bulk_create. Both
write the same rows (only the ids and timestamps differ): this compares them on PostgreSQL,
where both ways can run."""

import pytest

from labeling import services
from labeling.models import Annotation, Item
from tests.factories import csv_bytes, jsonl_bytes, make_project, make_review_rows
from tests.processes import needs_postgres

pytestmark = needs_postgres

FIELDS = (
    "external_id",
    "text",
    "meta",
    "content_hash",
    "split",
    "rand_key",
    "label__name",
    "label_origin",
    "label_count",
    "conflict",
)


def _rows(project) -> list[tuple]:
    return list(Item.objects.filter(project=project).order_by("pk").values_list(*FIELDS))


def _annotations(project) -> list[tuple]:
    found = Annotation.objects.filter(item__project=project).order_by("pk")
    return list(found.values_list("item__external_id", "user__username", "label__name", "origin"))


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_copy_and_bulk_create_write_the_same_rows(owner, monkeypatch, kind):
    rows = make_review_rows(120, labeled=45)
    for i, row in enumerate(rows):  # metadata of several shapes, and groups that share a split
        row["group"] = f"g{i % 7}" if i % 3 == 0 else ""
    if kind == "jsonl":
        for i, row in enumerate(rows):
            row["meta"] = {"n": i, "tags": ["a", "é"], "x": None} if i % 2 else "plain"
        data, name = jsonl_bytes(rows), "items.jsonl"
    else:
        data, name = csv_bytes(rows, ["id", "text", "label", "group"]), "items.csv"
    monkeypatch.setattr(services, "IMPORT_CHUNK", 50)  # several chunks
    copied, created = make_project(owner, seed=7), make_project(owner, seed=7)

    assert services.uses_copy()
    copy_batch = services.import_items(copied, owner, data, name)
    monkeypatch.setattr(services, "uses_copy", lambda: False)
    bulk_batch = services.import_items(created, owner, data, name)

    assert _rows(copied) == _rows(created)
    assert len(_rows(copied)) == 120
    assert _annotations(copied) == _annotations(created)
    assert len(_annotations(copied)) == 45
    counts = ("rows", "pool", "test", "labeled")
    assert [getattr(copy_batch, c) for c in counts] == [getattr(bulk_batch, c) for c in counts]
    assert copy_batch.test > 0
