"""Parse and check an uploaded CSV or JSONL file, row by row, before anything is written.

A file is accepted whole or not at all: every problem found is reported with the row it
is on (the line number in the file, header = line 1), and the caller imports nothing.

The file is never held whole in memory: it is read line by line twice. `check_upload`
checks every row and keeps only the ids (to find repeats); `iter_rows` then reads the
same, now known good, rows again for the caller to insert in chunks. Work per file is
linear in its size, and every dimension a hostile file could blow up (line length,
columns, nesting, field size, rows) has a limit with a clear message.
"""

import codecs
import csv
import hashlib
import io
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings

from labeling.splits import content_hash

MAX_TEXT_LENGTH = 100_000
MAX_ID_LENGTH = 255
MAX_REPORTED_ERRORS = 100
MAX_COLUMNS = 1_000
# Deeper metadata than this is not metadata; it also keeps every walk over it far from
# Python's recursion limit (a 100,000-deep object used to raise RecursionError).
MAX_META_DEPTH = 20
# One physical line: a 100,000-character text of 4-byte characters, escaped in JSON, fits.
MAX_LINE_BYTES = 2 * 1024 * 1024
MAX_INT_DIGITS = 100
PEEK_BYTES = 8192
PROGRESS_ROWS = 20_000
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
csv.field_size_limit(4 * MAX_TEXT_LENGTH)  # a cell beyond it is a clear csv.Error with its row


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
    id_given: bool = False

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


@dataclass
class UploadSummary:
    rows: int
    sha256: str


def excerpt(value: object, limit: int = 40) -> str:
    """A short repr of user input for error messages, so an error never echoes a huge value."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-1]}"


def check_upload(
    upload: BinaryIO,
    file_name: str,
    label_names: set[str] | None,
    progress: Callable[[str, int, int], None] | None = None,
) -> UploadSummary:
    """Check every row of a CSV or JSONL file; raise ImportRejected naming every bad row.

    `label_names=None` accepts any label (a file that defines its own labels). `progress`,
    if given, hears ("check", bytes read, file size) every PROGRESS_ROWS rows.
    """
    kind = _sniff(upload, file_name)
    size = upload.seek(0, io.SEEK_END)
    upload.seek(0)
    digest = hashlib.sha256()
    ids = _IdAssigner(check=True)
    max_rows = settings.SIFT_MAX_IMPORT_ROWS
    errors: list[dict] = []
    n_rows = n_errors = 0
    for line, record in _records(upload, file_name, kind, digest):
        n_rows += 1
        if progress is not None and n_rows % PROGRESS_ROWS == 0:
            progress("check", upload.tell(), size)
        if n_rows > max_rows:
            raise ImportRejected(f"The file has more than {max_rows:,} rows; split it into smaller files.")
        try:
            ids.assign(_check_record(line, record, label_names))
        except ValueError as exc:
            n_errors += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append({"row": line, "error": str(exc)})
    n_errors += len(ids.errors)
    if n_errors:
        errors = sorted(errors + ids.errors, key=lambda e: e["row"])
        raise ImportRejected(import_summary(n_errors), errors[:MAX_REPORTED_ERRORS])
    if not n_rows:
        raise ImportRejected("The file has a header but no rows.")
    return UploadSummary(rows=n_rows, sha256=digest.hexdigest())


def iter_rows(upload: BinaryIO, file_name: str, label_names: set[str] | None) -> Iterator[ParsedRow]:
    """Yield the rows of a file that check_upload accepted, each with its external id."""
    ids = _IdAssigner(check=False)
    for line, record in _records(upload, file_name, _sniff(upload, file_name), hashlib.sha256()):
        try:
            row = _check_record(line, record, label_names)
        except ValueError as exc:  # only if the file changed on disk between the two reads
            raise _fatal("The file changed while it was imported", line, str(exc)) from None
        ids.assign(row)
        yield row


def parse_upload(data: bytes | BinaryIO, file_name: str, label_names: set[str] | None) -> list[ParsedRow]:
    """Return all rows of a checked file at once (for callers that need them all anyway)."""
    upload = io.BytesIO(data) if isinstance(data, bytes) else data
    check_upload(upload, file_name, label_names)
    return list(iter_rows(upload, file_name, label_names))


def import_summary(n_errors: int) -> str:
    rows = "1 row has a problem" if n_errors == 1 else f"{n_errors:,} rows have problems"
    return f"{rows}; nothing was imported."


class _IdAssigner:
    """Give rows without an id one from their text; with check=True, find repeated ids."""

    def __init__(self, check: bool):
        self.check = check
        self.counts: dict[str, int] = {}
        self.seen: dict[str, tuple[int, bool]] = {}  # id -> (line, given in the file)
        self.errors: list[dict] = []

    def assign(self, row: ParsedRow) -> None:
        if row.external_id is None:
            # Repeats of one text in a file are kept apart by a counter; a text that an
            # earlier import already holds is refused by the importer, so importing a
            # file twice is an error rather than a silent second copy.
            base = row.content_hash[:16]
            self.counts[base] = self.counts.get(base, 0) + 1
            row.external_id = base if self.counts[base] == 1 else f"{base}-{self.counts[base]}"
        else:
            row.id_given = True
        if self.check:
            self._check_repeat(row)

    def _check_repeat(self, row: ParsedRow) -> None:
        earlier = self.seen.get(row.external_id)
        if earlier is None:
            self.seen[row.external_id] = (row.line, row.id_given)
            return
        line, given = earlier
        if row.id_given and given:
            error = {"row": row.line, "error": f"id {excerpt(row.external_id)} repeats row {line}"}
        else:
            auto_line = line if row.id_given else row.line
            error = {
                "row": auto_line,
                "error": f"no id, and the same text is item {excerpt(row.external_id)} of this file; "
                "add an 'id' column to import it again",
            }
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


def _sniff(upload: BinaryIO, file_name: str) -> str:
    upload.seek(0)
    head = upload.read(PEEK_BYTES)
    upload.seek(0)
    if not head.strip() and len(head) < PEEK_BYTES:
        raise ImportRejected("The file is empty.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(head):
        raise ImportRejected("The file is UTF-16 text; save it as UTF-8 and import it again.")
    if b"\x00" in head:
        raise ImportRejected("This is not a CSV or JSONL file: it contains binary data.")
    return _detect_format(file_name, head.decode("utf-8", errors="ignore"))


def _looks_utf16(head: bytes) -> bool:
    # UTF-16 without a byte-order mark: mostly-ASCII text has a NUL in every other byte.
    even, odd = head[0::2].count(0), head[1::2].count(0)
    half = len(head) // 2
    return half >= 2 and max(even, odd) >= half // 2 and min(even, odd) <= half // 20


def _detect_format(file_name: str, text: str) -> str:
    name = file_name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if "." in name.rsplit("/", 1)[-1]:
        raise ImportRejected(
            f"{excerpt(file_name, 80)} is not a CSV or JSONL file (expected .csv, .tsv, .jsonl or .ndjson)."
        )
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def _records(upload: BinaryIO, file_name: str, kind: str, digest) -> Iterator[tuple[int, dict]]:
    lines = _lines(upload, digest)
    if kind == "jsonl":
        return _jsonl_records(lines)
    return _csv_records(lines, file_name)


def _lines(upload: BinaryIO, digest) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of each physical line, refusing what is not UTF-8 text."""
    upload.seek(0)
    for number in itertools.count(1):
        raw = upload.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        digest.update(raw)
        if len(raw) > MAX_LINE_BYTES:
            raise _fatal("A line is too long", number, f"longer than {MAX_LINE_BYTES // (1024 * 1024)} MB")
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if b"\x00" in raw:
            raise _fatal("The file contains binary data", number, "contains a NUL byte")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            error = f"byte 0x{raw[exc.start]:02x} is not valid UTF-8"
            raise _fatal("The file is not UTF-8 text", number, error) from None
        yield number, text


def _fatal(message: str, row: int, error: str) -> ImportRejected:
    return ImportRejected(f"{message}; nothing was imported.", [{"row": row, "error": error}])


def _line_texts(lines: Iterator[tuple[int, str]]) -> Iterator[str]:
    return (text for _, text in lines)


def _csv_records(lines: Iterator[tuple[int, str]], file_name: str) -> Iterator[tuple[int, dict]]:
    delimiter = "\t" if file_name.lower().endswith(".tsv") else ","
    reader = csv.reader(_line_texts(lines), delimiter=delimiter, strict=True)
    header = _csv_header(reader)
    line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _fatal("The file is not valid CSV", reader.line_num, f"not valid CSV: {exc}") from None
        start, line = line + 1, reader.line_num
        if not values:
            continue  # a blank line
        if len(values) != len(header):
            yield start, {"__error__": f"has {len(values)} fields, the header has {len(header)}"}
            continue
        yield start, dict(zip(header, values, strict=True))


def _csv_header(reader) -> list[str]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportRejected("The file is empty.") from None
    except csv.Error as exc:
        raise ImportRejected(f"The header row is not valid CSV: {exc}.") from None
    if len(header) > MAX_COLUMNS:
        raise ImportRejected(f"The header has {len(header):,} columns; at most {MAX_COLUMNS:,} are allowed.")
    if "text" not in header:
        found = ", ".join(excerpt(h, 30) for h in header[:10]) or "nothing"
        raise ImportRejected(f"The header has no 'text' column (found: {found}).")
    # Counter, not header.count() per column: linear in the number of columns.
    duplicates = sorted(name for name, n in Counter(header).items() if n > 1)
    if duplicates:
        raise ImportRejected(
            f"The header repeats column(s): {', '.join(excerpt(d, 30) for d in duplicates[:10])}."
        )
    return header


def _jsonl_records(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    for line, raw in lines:
        if raw.strip():
            yield line, _parse_json_line(raw)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number; use null or a finite number")


def _parse_int(digits: str) -> int:
    # Python refuses over 4,300 digits with a message about sys.set_int_max_str_digits.
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"has an integer of {len(digits):,} digits (at most {MAX_INT_DIGITS})")
    return int(digits)


def _parse_json_line(raw: str) -> dict:
    try:
        record = json.loads(raw, parse_constant=_refuse_constant, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        return {"__error__": f"not valid JSON ({exc.msg} at column {exc.colno})"}
    except RecursionError:
        return {"__error__": f"is nested too deeply (at most {MAX_META_DEPTH} levels)"}
    except ValueError as exc:  # NaN, Infinity or a huge integer, from the two parse_ hooks
        return {"__error__": str(exc)[:200]}
    if not isinstance(record, dict):
        return {"__error__": "each line must be a JSON object"}
    try:
        # Only JSON can carry these: CSV cells are decoded UTF-8 with NUL bytes refused.
        _check_value(record, 0)
    except ValueError as exc:
        return {"__error__": str(exc)}
    return record


def _check_record(line: int, record: dict, label_names: set[str] | None) -> ParsedRow:
    if "__error__" in record:
        raise ValueError(record["__error__"])
    text = record.get("text")
    if text is None:
        raise ValueError("has no 'text'")
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    if not text or text.isspace():  # isspace, not strip: no copy of every text
        raise ValueError("'text' is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"'text' is longer than {MAX_TEXT_LENGTH:,} characters")
    return ParsedRow(
        line=line,
        text=text,
        external_id=_check_id(record.get("id")),
        label=_check_label(record.get("label"), label_names),
        meta={k: v for k, v in record.items() if k not in ("id", "text", "label")},
    )


def _check_value(value: object, depth: int) -> None:
    """Refuse what no database stores: NUL characters, lone surrogates, endless nesting."""
    if isinstance(value, str):
        _check_string(value)
    elif isinstance(value, dict | list):
        if depth >= MAX_META_DEPTH:
            raise ValueError(f"is nested too deeply (at most {MAX_META_DEPTH} levels)")
        for key in value if isinstance(value, dict) else ():
            _check_string(key)
        for item in value.values() if isinstance(value, dict) else value:
            _check_value(item, depth + 1)


def _check_string(value: str) -> None:
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = f"\\u{ord(value[exc.start]):04x}"
        raise ValueError(f"contains {bad}, a lone surrogate: not valid Unicode text") from None


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
        allowed = ", ".join(sorted(label_names)) if len(label_names) <= 20 else f"{len(label_names)} labels"
        raise ValueError(f"label {excerpt(label)} is not one of the project's labels ({allowed})")
    return label
