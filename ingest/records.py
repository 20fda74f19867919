"""CSV, JSON and JSONL files: each row or record is one document. Which fields are
the id, the title, the text and the metadata is configured per source.

Text limits apply to each record, not to the file: a 5,000-record corpus is as many
documents. A record id repeated within a file gets a stable suffix (`id~2`), so each
record stays a document of its own and a rerun publishes nothing new."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from ingest.errors import SourceError
from ingest.limits import Limits


@dataclass(frozen=True)
class RecordFields:
    """`text` fields are joined into the document text; `metadata` None means every
    other scalar field."""

    id: str = "id"
    title: str = "title"
    text: tuple[str, ...] = ("text",)
    metadata: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Record:
    part: str
    title: str
    text: str
    metadata: dict[str, str]


def json_depth(text: str) -> int:
    """Nesting depth of a JSON text, without parsing it (the parser itself recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _load(text: str, where: str, limits: Limits) -> Any:
    limits.check(where, "JSON nesting depth", json_depth(text), "max_json_depth")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                          "fix or remove it") from exc


def clean(value: str) -> str:
    """JSON may escape lone surrogates (\\ud800) that no UTF-8 sink can store: each becomes U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def to_record(row: dict[str, Any], n: int, fields: RecordFields, where: str) -> Record:
    text_fields = [f for f in fields.text if f in row] or [
        k for k, v in row.items() if isinstance(v, str) and k not in (fields.id, fields.title)]
    text = "\n".join(str(row[f]) for f in text_fields if row.get(f) not in (None, ""))
    if not text.strip():
        raise SourceError(f"{where}: the record has no text in {', '.join(fields.text)}; set the source's "
                          "text fields to the columns that hold its text")
    part = str(row.get(fields.id) or n)
    keep = fields.metadata if fields.metadata is not None else [
        k for k in row if k not in (fields.id, fields.title, *text_fields)]
    meta = {clean(k): clean(str(row[k])) for k in keep if k in row and not isinstance(row[k], dict | list)}
    return Record(part=clean(part), title=clean(str(row.get(fields.title) or part)), text=clean(text), metadata=meta)


def _records(rows: Iterable[tuple[int, Any]], name: str, fields: RecordFields, limits: Limits) -> list[Record]:
    out = []
    seen: dict[str, int] = {}
    for n, row in rows:
        limits.check(name, "record count", n, "max_records")
        if not isinstance(row, dict):
            raise SourceError(f"{name} record {n}: a record must be a JSON object, got {type(row).__name__}")
        record = to_record(row, n, fields, f"{name} record {n}")
        limits.check(f"{name} record {n}", "text length in characters", len(record.text), "max_text_chars")
        seen[record.part] = seen.get(record.part, 0) + 1
        if seen[record.part] > 1:
            record = replace(record, part=f"{record.part}~{seen[record.part]}")
        out.append(record)
    return out


def parse_jsonl(text: str, name: str, fields: RecordFields, limits: Limits) -> list[Record]:
    rows = ((n, _load(line, f"{name} line {n}", limits))
            for n, line in enumerate(text.splitlines(), start=1) if line.strip())
    return _records(rows, name, fields, limits)


def parse_json(text: str, name: str, fields: RecordFields, limits: Limits) -> list[Record]:
    doc = _load(text, name, limits)
    items = doc if isinstance(doc, list) else [doc]
    return _records(enumerate(items, start=1), name, fields, limits)


def parse_csv(text: str, name: str, fields: RecordFields, limits: Limits) -> list[Record]:
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    # The csv module refuses fields over 131,072 characters; ours is the record's text limit.
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_text_chars))
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    try:
        if not reader.fieldnames:
            raise SourceError(f"{name}: the CSV file has no header row; add one naming the columns")
        return _records(enumerate(reader, start=2), name, fields, limits)
    except csv.Error as exc:
        raise SourceError(f"{name}: not valid CSV after line {reader.line_num} ({exc}); fix the row or split the "
                          "field") from exc
