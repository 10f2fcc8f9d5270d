"""Dataset versions: export any of them as CSV, JSONL or Parquet, and diff two of them.

A version is an annotation watermark plus the resolution rule, so its rows are
`labeling.exports.iter_dataset_rows` at that watermark, whenever they are read: the CSV
export of version n, made at any later time, hashes to the sha256 recorded when n was made.
Every format is streamed: a few hundred rows (CSV/JSONL) or one row group (Parquet) at a time.
pyarrow is imported by the Parquet export only: a web process that serves no Parquet never
loads it.
"""

import io
from collections.abc import Iterable, Iterator
from itertools import islice

from django.http import StreamingHttpResponse

from labeling import exports
from labeling.exports import DatasetRow
from labeling.models import DatasetVersion, Project

FORMATS = (*exports.FORMATS, "parquet")
CONTENT_TYPES = {**exports.CONTENT_TYPES, "parquet": "application/vnd.apache.parquet"}
PARQUET_ROW_GROUP = 10_000
DIFF_LIMIT = 500
TEXT_PREVIEW = 200


def parquet_schema(metadata: dict[str, str]):
    """The Parquet export's columns, with the version's metadata."""
    import pyarrow as pa

    columns = [
        ("id", pa.string()),
        ("text", pa.string()),
        ("label", pa.string()),
        ("split", pa.string()),
        ("labeled_by", pa.string()),
        ("labeled_at", pa.timestamp("us", tz="UTC")),
        ("annotations", pa.int32()),
        ("meta", pa.string()),  # canonical JSON, as in the CSV export
    ]
    return pa.schema(columns).with_metadata(metadata)


def version_metadata(version: DatasetVersion) -> dict[str, str]:
    """What identifies the version an export was made from (Parquet metadata, HTTP headers)."""
    return {
        "sift.project": version.project.slug,
        "sift.dataset_version": str(version.number),
        "sift.csv_sha256": version.sha256,
        "sift.max_annotation_id": str(version.max_annotation_id),
        "sift.rule": version.rule,
        "sift.created_at": version.created_at.isoformat(),
    }


def export_file_name(version: DatasetVersion, fmt: str) -> str:
    return f"{version.project.slug}-dataset-v{version.number}.{fmt}"


def stream_rows(rows: Iterable[DatasetRow], fmt: str, metadata: dict[str, str]) -> Iterator[bytes]:
    """Encode rows in `fmt`; `metadata` goes into the Parquet footer (CSV and JSONL carry rows only,
    so that the CSV stays the canonical bytes the version's sha256 is computed over)."""
    if fmt == "parquet":
        return stream_parquet(rows, metadata)
    return exports.stream_export(rows, fmt)


def stream_version(version: DatasetVersion, fmt: str) -> Iterator[bytes]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose {', '.join(FORMATS)})")
    rows = exports.iter_dataset_rows(version.project, version.max_annotation_id)
    return stream_rows(rows, fmt, version_metadata(version))


def version_response(version: DatasetVersion, fmt: str) -> StreamingHttpResponse:
    """Stream a version as a download named after it, with its number and sha256 in headers."""
    response = StreamingHttpResponse(stream_version(version, fmt), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{export_file_name(version, fmt)}"'
    response["X-Sift-Dataset-Version"] = str(version.number)
    response["X-Sift-Dataset-Sha256"] = version.sha256
    return response


class _Pipe(io.RawIOBase):
    """A write-only file that hands over what was written so far, so Parquet can be streamed."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def stream_parquet(
    rows: Iterable[DatasetRow], metadata: dict[str, str], row_group: int = PARQUET_ROW_GROUP
) -> Iterator[bytes]:
    """Write rows as Parquet, one row group at a time; yield the bytes of each as it is done."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(metadata)
    pipe = _Pipe()
    writer = pq.ParquetWriter(pipe, schema)
    iterator = iter(rows)
    while batch := list(islice(iterator, row_group)):
        writer.write_table(pa.Table.from_pylist([_parquet_record(r) for r in batch], schema=schema))
        yield pipe.drain()
    writer.close()
    yield pipe.drain()


def _parquet_record(row: DatasetRow) -> dict:
    record = row.as_export()
    record["labeled_at"] = row.labeled_at
    record["meta"] = exports._canonical_json(row.meta)
    return record


def diff_versions(project: Project, a: DatasetVersion, b: DatasetVersion, limit: int = DIFF_LIMIT) -> dict:
    """What changed from version a to version b: items added, labels changed, items removed.

    Both versions are read as streams in item order and merged, so memory holds only the
    first `limit` entries of each list; the counts cover everything.
    """
    found: dict[str, list] = {"added": [], "changed": [], "removed": []}
    transitions: dict[tuple[str, str], int] = {}
    counts = {"added": 0, "changed": 0, "removed": 0, "unchanged": 0}

    def note(kind: str, entry: dict) -> None:
        counts[kind] += 1
        if len(found[kind]) < limit:
            found[kind].append(entry)

    for old, new in _merge(
        exports.iter_dataset_rows(project, a.max_annotation_id),
        exports.iter_dataset_rows(project, b.max_annotation_id),
    ):
        if old is None:
            note("added", {**_entry(new), "label": new.label})
        elif new is None:
            note("removed", {**_entry(old), "label": old.label})
        elif old.label != new.label:
            note("changed", {**_entry(new), "from": old.label, "to": new.label})
            transitions[(old.label, new.label)] = transitions.get((old.label, new.label), 0) + 1
        else:
            counts["unchanged"] += 1
    return {
        "from": a.number,
        "to": b.number,
        "counts": counts,
        "transitions": [
            {"from": f, "to": t, "count": n}
            for (f, t), n in sorted(transitions.items(), key=lambda kv: -kv[1])
        ],
        **found,
        "truncated": any(counts[kind] > len(found[kind]) for kind in found),
    }


def _merge(
    old: Iterator[DatasetRow], new: Iterator[DatasetRow]
) -> Iterator[tuple[DatasetRow | None, DatasetRow | None]]:
    """Pair rows of two item-ordered streams by item; None where one side has no row."""
    a, b = next(old, None), next(new, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.item_pk < b.item_pk):
            yield a, None
            a = next(old, None)
        elif a is None or b.item_pk < a.item_pk:
            yield None, b
            b = next(new, None)
        else:
            yield a, b
            a, b = next(old, None), next(new, None)


def _entry(row: DatasetRow) -> dict:
    return {"item": row.item_pk, "id": row.external_id, "text": row.text[:TEXT_PREVIEW], "split": row.split}
