"""Parsers: the bytes of one file into one or more documents.

Every format goes through the same gate: size limits first, then the format's
own checks. Each failure is a SourceError whose message names the file, what is
wrong and what to do; the caller dead-letters it and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from ingest import records
from ingest.archives import expand
from ingest.encodings import decode
from ingest.errors import SourceError
from ingest.limits import Limits
from ingest.markup import html_to_text, xml_to_text
from ingest.pdf import PAGE_BREAK, pdf_pages
from ingest.records import RecordFields

PARSER_VERSION = "formats-2"
FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".html": "html",
           ".htm": "html", ".xml": "xml", ".pdf": "pdf", ".csv": "csv", ".json": "json", ".jsonl": "jsonl",
           ".ndjson": "jsonl", ".zip": "zip", ".gz": "gzip"}
ARCHIVES = ("zip", "gzip")


@dataclass(frozen=True)
class Parsed:
    """One document found in a file; `part` tells apart the records or archive
    entries of one file."""

    title: str
    text: str
    format: str
    part: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


def file_format(name: str) -> str | None:
    return FORMATS.get(PurePosixPath(name).suffix.lower())


def parse(name: str, data: bytes, *, limits: Limits | None = None,
          fields: RecordFields | None = None) -> list[Parsed]:
    limits = limits or Limits()
    fields = fields or RecordFields()
    fmt = file_format(name)
    if fmt is None:
        raise SourceError(f"{name}: unsupported file type; supported: {', '.join(sorted(FORMATS))}")
    limits.check(name, "file size in bytes", len(data), "max_file_bytes")
    if not data.strip():
        raise SourceError(f"{name}: the file is empty ({len(data)} bytes); remove it or give it content")
    if fmt in ARCHIVES:
        return _parse_archive(name, data, limits, fields)
    if fmt == "pdf":
        title, pages, empty = pdf_pages(data, name, limits)
        meta = {"pages": str(len(pages))} | ({"pages_without_text": ",".join(map(str, empty))} if empty else {})
        return [Parsed(title=title or first_line(pages[0]) or PurePosixPath(name).stem,
                       text=PAGE_BREAK.join(pages), format="pdf", metadata=meta)]
    if fmt == "xml":
        text = xml_to_text(data, name)
        return [Parsed(title=first_line(text) or PurePosixPath(name).stem, text=text, format="xml")]
    text = decode(data, name)
    if not text.strip():
        raise SourceError(f"{name}: the file has no text; remove it or give it content")
    if fmt in ("jsonl", "json", "csv"):
        # Each record is a document: the text limit applies to it (records.py), not to the file.
        parse_records = {"jsonl": records.parse_jsonl, "json": records.parse_json, "csv": records.parse_csv}[fmt]
        return [Parsed(title=r.title, text=r.text, format=fmt, part=r.part, metadata=r.metadata)
                for r in parse_records(text, name, fields, limits)]
    limits.check(name, "text length in characters", len(text), "max_text_chars")
    limits.check(name, "longest line in characters", max(map(len, text.splitlines()), default=0),
                 "max_line_chars")
    if fmt == "html":
        title, body, hidden = html_to_text(text, name)
        return [Parsed(title=title, text=body, format="html",
                       metadata={"hidden_elements_dropped": str(hidden)} if hidden else {})]
    title = first_heading(text) if fmt == "markdown" else ""
    return [Parsed(title=title or first_line(text) or PurePosixPath(name).stem, text=text, format=fmt)]


def _parse_archive(name: str, data: bytes, limits: Limits, fields: RecordFields) -> list[Parsed]:
    docs = []
    for inner, body in expand(name, data, limits):
        if file_format(inner) in ARCHIVES:
            raise SourceError(f"{name}: contains another archive ({inner}); nested archives are not opened")
        try:
            found = parse(inner, body, limits=limits, fields=fields)
        except SourceError as exc:
            raise SourceError(f"{name}!{exc}") from exc
        docs += [replace(d, part=inner + (f"#{d.part}" if d.part else "")) for d in found]
    if not docs:
        raise SourceError(f"{name}: the archive holds no documents")
    return docs


def first_heading(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:200]
