"""Parse and check an uploaded CSV or JSONL file, row by row, before anything is written.

A file is accepted whole or not at all: every problem found is reported with the row it
is on (the line number in the file, header = line 1), and the caller imports nothing.
"""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from labeling.splits import content_hash

MAX_TEXT_LENGTH = 100_000
MAX_ID_LENGTH = 255
MAX_REPORTED_ERRORS = 100
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


class ImportRejected(Exception):
    """The file cannot be imported; `rows` lists [{"row": n, "error": "..."}]."""

    def __init__(self, message: str, rows: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.rows = rows or []


@dataclass
class ParsedRow:
    line: int
    text: str
    external_id: str | None
    label: str | None
    meta: dict = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


def parse_upload(data: bytes, file_name: str, label_names: set[str] | None) -> list[ParsedRow]:
    """Return the rows of a CSV or JSONL file, or raise ImportRejected naming every bad row.

    `label_names=None` accepts any label (a file that defines its own labels).
    """
    if not data.strip():
        raise ImportRejected("The file is empty.")
    if b"\x00" in data[:8192]:
        raise ImportRejected("This is not a CSV or JSONL file: it contains binary data.")
    text = _decode(data)
    kind = _detect_format(file_name, text)
    records = _read_jsonl(text) if kind == "jsonl" else _read_csv(text, file_name)
    rows, errors = [], []
    seen_ids: dict[str, int] = {}
    for line, record in records:
        try:
            row = _check_record(line, record, label_names)
            if row.external_id is not None:
                if row.external_id in seen_ids:
                    raise ValueError(f"id {row.external_id!r} repeats row {seen_ids[row.external_id]}")
                seen_ids[row.external_id] = line
            rows.append(row)
        except ValueError as exc:
            errors.append({"row": line, "error": str(exc)})
    if errors:
        raise ImportRejected(import_summary(len(errors)), errors[:MAX_REPORTED_ERRORS])
    if not rows:
        raise ImportRejected("The file has a header but no rows.")
    return rows


def import_summary(n_errors: int) -> str:
    rows = "1 row has a problem" if n_errors == 1 else f"{n_errors} rows have problems"
    return f"{rows}; nothing was imported."


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected(
            "The file is not UTF-8 text; nothing was imported.",
            [{"row": line, "error": f"byte 0x{data[exc.start]:02x} is not valid UTF-8"}],
        ) from None


def _detect_format(file_name: str, text: str) -> str:
    name = file_name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if "." in name.rsplit("/", 1)[-1]:
        raise ImportRejected(
            f"{file_name!r} is not a CSV or JSONL file (expected .csv, .tsv, .jsonl or .ndjson)."
        )
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def _read_csv(text: str, file_name: str) -> Iterator[tuple[int, dict]]:
    delimiter = "\t" if file_name.lower().endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise ImportRejected(f"The header row is not valid CSV: {exc}.") from None
    if "text" not in header:
        raise ImportRejected(f"The header has no 'text' column (found: {', '.join(header) or 'nothing'}).")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ImportRejected(f"The header repeats column(s): {', '.join(duplicates)}.")
    return _csv_records(reader, header)


def _csv_records(reader, header: list[str]) -> Iterator[tuple[int, dict]]:
    line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportRejected(
                "The file is not valid CSV; nothing was imported.",
                [{"row": reader.line_num, "error": f"not valid CSV: {exc}"}],
            ) from None
        start, line = line + 1, reader.line_num
        if not values:
            continue  # a blank line
        if len(values) != len(header):
            yield start, {"__error__": f"has {len(values)} fields, the header has {len(header)}"}
            continue
        yield start, dict(zip(header, values, strict=True))


def _read_jsonl(text: str) -> Iterator[tuple[int, dict]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield line, {"__error__": f"not valid JSON ({exc.msg} at column {exc.colno})"}
            continue
        if not isinstance(record, dict):
            yield line, {"__error__": "each line must be a JSON object"}
            continue
        yield line, record


def _check_record(line: int, record: dict, label_names: set[str] | None) -> ParsedRow:
    if "__error__" in record:
        raise ValueError(record["__error__"])
    text = record.get("text")
    if text is None:
        raise ValueError("has no 'text'")
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    if not text.strip():
        raise ValueError("'text' is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"'text' is longer than {MAX_TEXT_LENGTH} characters")
    return ParsedRow(
        line=line,
        text=text,
        external_id=_check_id(record.get("id")),
        label=_check_label(record.get("label"), label_names),
        meta={k: v for k, v in record.items() if k not in ("id", "text", "label")},
    )


def _check_id(value: object) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("'id' must be a string or an integer")
    external_id = str(value).strip()
    if len(external_id) > MAX_ID_LENGTH:
        raise ValueError(f"'id' is longer than {MAX_ID_LENGTH} characters")
    return external_id


def _check_label(value: object, label_names: set[str] | None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError("'label' must be a string")
    label = value.strip()
    if label_names is not None and label not in label_names:
        allowed = ", ".join(sorted(label_names))
        raise ValueError(f"label {label!r} is not one of the project's labels ({allowed})")
    return label
