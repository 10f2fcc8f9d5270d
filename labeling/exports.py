"""A project's labels as of an annotation watermark: rebuilt, streamed, written, hashed.

Every reader of labels goes through `iter_dataset_rows`: exports, dataset versions and
training all see the same rows for the same watermark, byte for byte.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from labeling.models import Annotation, Origin, Project
from labeling.resolution import RULE, Vote, resolve

EXPORT_COLUMNS = ["id", "text", "label", "split", "labeled_by", "labeled_at", "annotations", "meta"]
FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_ROWS_PER_CHUNK = 500
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = ("id", "text", "label", "labeled_by")  # user-written cells of the CSV export


@dataclass(frozen=True)
class DatasetRow:
    item_pk: int
    external_id: str
    text: str
    label: str
    split: str
    labeled_by: str
    labeled_at: datetime
    annotations: int
    meta: dict

    def as_export(self) -> dict:
        return {
            "id": self.external_id,
            "text": self.text,
            "label": self.label,
            "split": self.split,
            "labeled_by": self.labeled_by,
            "labeled_at": self.labeled_at.isoformat(),
            "annotations": self.annotations,
            "meta": self.meta,
        }


def iter_dataset_rows(
    project: Project, max_annotation_id: int, split: str | None = None
) -> Iterator[DatasetRow]:
    """Yield each labeled item as of `max_annotation_id`, in item order."""
    labels = dict(project.labels.values_list("pk", "name"))
    annotations = Annotation.objects.filter(item__project=project, pk__lte=max_annotation_id)
    if split is not None:
        annotations = annotations.filter(item__split=split)
    fields = (
        "pk",
        "item_id",
        "user_id",
        "user__username",
        "label_id",
        "origin",
        "created_at",
        "item__external_id",
        "item__text",
        "item__split",
        "item__meta",
    )
    current: list[tuple] = []
    for record in annotations.order_by("item_id", "pk").values_list(*fields).iterator(2000):
        if current and record[1] != current[0][1]:
            row = _resolve_item(current, labels)
            if row is not None:
                yield row
            current = []
        current.append(record)
    if current:
        row = _resolve_item(current, labels)
        if row is not None:
            yield row


def _resolve_item(records: list[tuple], labels: dict[int, str]) -> DatasetRow | None:
    votes = [
        Vote(pk, "import" if origin == Origin.IMPORT else str(user_id), label_id, origin)
        for pk, _, user_id, _, label_id, origin, *_ in records
    ]
    resolved = resolve(votes)
    if resolved.label_id is None:
        return None
    names = {}
    for _pk, _, user_id, username, _, origin, *_ in records:
        names["import" if origin == Origin.IMPORT else str(user_id)] = (
            "import" if origin == Origin.IMPORT else username
        )
    deciding = next(r for r in records if r[0] == resolved.deciding_id)
    first = records[0]
    return DatasetRow(
        item_pk=first[1],
        external_id=first[7],
        text=first[8],
        label=labels[resolved.label_id],
        split=first[9],
        labeled_by=";".join(names[v] for v in resolved.voters) or deciding[3] or "",
        labeled_at=deciding[6],
        annotations=len(records),
        meta=first[10],
    )


@dataclass(frozen=True)
class SelectionRow:
    """One item of an items-browser selection as it stands now, labeled or not."""

    COLUMNS = ("id", "text", "label", "label_origin", "split", "labeled_at", "meta")
    TEXT_COLUMNS = ("id", "text", "label")

    external_id: str
    text: str
    label: str
    label_origin: str
    split: str
    labeled_at: datetime | None
    meta: dict

    def as_export(self) -> dict:
        return {
            "id": self.external_id,
            "text": self.text,
            "label": self.label,
            "label_origin": self.label_origin,
            "split": self.split,
            "labeled_at": self.labeled_at.isoformat() if self.labeled_at else "",
            "meta": self.meta,
        }


def iter_selection_rows(items: QuerySet) -> Iterator[SelectionRow]:
    """The selected items (a QuerySet of Item) in id order, with their resolved label now."""
    fields = ("external_id", "text", "label__name", "label_origin", "split", "last_labeled_at", "meta")
    for external_id, text, label, origin, split, labeled_at, meta in (
        items.order_by("pk").values_list(*fields).iterator(2000)
    ):
        yield SelectionRow(external_id, text, label or "", origin or "", split, labeled_at, meta)


def selection_response(project: Project, items: QuerySet, fmt: str) -> StreamingHttpResponse:
    """Stream the selected items as a download (the same writers and CSV rule as the export)."""
    rows = iter_selection_rows(items)
    columns, text_columns = SelectionRow.COLUMNS, SelectionRow.TEXT_COLUMNS
    response = StreamingHttpResponse(
        stream_export(rows, fmt, columns=columns, text_columns=text_columns), content_type=CONTENT_TYPES[fmt]
    )
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-selection.{fmt}"'
    return response


def stream_export(
    rows: Iterable[DatasetRow | SelectionRow],
    fmt: str,
    *,
    columns: Sequence[str] = EXPORT_COLUMNS,
    text_columns: Sequence[str] = TEXT_COLUMNS,
) -> Iterator[bytes]:
    """Encode rows as CSV or JSONL, a few hundred rows per chunk.

    `text_columns` are the user-written cells the CSV neutralises (spreadsheet_safe)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose {', '.join(FORMATS)})")
    lines = _csv_lines(rows, columns, text_columns) if fmt == "csv" else _jsonl_lines(rows)
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= _ROWS_PER_CHUNK:
            yield "".join(buffer).encode()
            buffer = []
    if buffer:
        yield "".join(buffer).encode()


def spreadsheet_safe(value: str) -> str:
    """Neutralise a CSV cell a spreadsheet would run as a formula (OWASP "CSV injection").

    A cell starting with = + - @, a tab or a carriage return gets a leading single quote,
    which spreadsheets show as text. Only the CSV export does this; JSONL and Parquet keep
    the raw text.
    """
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def _csv_lines(rows: Iterable, columns: Sequence[str], text_columns: Sequence[str]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    # csv quotes a field holding "\n" but not one holding only "\r" (it is not in the line
    # terminator), and a reader then splits the row there; such rows are written all quoted.
    quoting_all = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for row in rows:
        record = row.as_export()
        for column in text_columns:
            record[column] = spreadsheet_safe(record[column])
        record["meta"] = _canonical_json(record["meta"])  # starts with "{": never a formula
        (quoting_all if any(map(_unquoted_cr, record.values())) else writer).writerow(record)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def _unquoted_cr(value: object) -> bool:
    # Only rows that csv would have broken change: others keep their bytes (and versions their sha256).
    return isinstance(value, str) and "\r" in value and not any(c in value for c in '\n,"')


def _jsonl_lines(rows: Iterable) -> Iterator[str]:
    for row in rows:
        yield _canonical_json(row.as_export()) + "\n"


def _canonical_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def summarize_version(project: Project, max_annotation_id: int) -> tuple[dict, str]:
    """Return the counts per split and label, and the sha256 of the CSV export."""
    digest = hashlib.sha256()
    counts: dict = {"total": 0, "split": {}, "label": {}}

    def counted(rows: Iterable[DatasetRow]) -> Iterator[DatasetRow]:
        for row in rows:
            counts["total"] += 1
            counts["split"][row.split] = counts["split"].get(row.split, 0) + 1
            per_label = counts["label"].setdefault(row.label, {})
            per_label[row.split] = per_label.get(row.split, 0) + 1
            yield row

    for chunk in stream_export(counted(iter_dataset_rows(project, max_annotation_id)), "csv"):
        digest.update(chunk)
    counts["rule"] = RULE
    return counts, digest.hexdigest()


def export_response(project: Project, max_annotation_id: int, fmt: str) -> StreamingHttpResponse:
    """Stream the project's labels as of `max_annotation_id` as a download."""
    rows = iter_dataset_rows(project, max_annotation_id)
    response = StreamingHttpResponse(stream_export(rows, fmt), content_type=CONTENT_TYPES[fmt])
    name = f"{project.slug}-labels-upto-{max_annotation_id}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
