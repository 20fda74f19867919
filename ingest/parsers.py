"""Parsers: bytes of one file into one or more documents (title, text, metadata).

Plain for now (the extraction issue deepens them); each raises SourceError with a
reason that names the file and says what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import ClassVar

from ingest.errors import SourceError

PARSER_VERSION = "plain-1"
FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".html": "html",
           ".htm": "html", ".jsonl": "jsonl"}


@dataclass(frozen=True)
class Parsed:
    """One document found in a file; `part` tells records of one jsonl file apart."""

    title: str
    text: str
    format: str
    part: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


def decode_utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{name}: not valid UTF-8 (byte {exc.start}); convert the file to UTF-8 and ingest it again"
        ) from exc


def parse(name: str, data: bytes) -> list[Parsed]:
    fmt = FORMATS.get(PurePosixPath(name).suffix.lower())
    if fmt is None:
        raise SourceError(f"{name}: unsupported file type; supported: {', '.join(sorted(FORMATS))}")
    text = decode_utf8(data, name)
    if not text.strip():
        raise SourceError(f"{name}: the file is empty; remove it or give it content")
    if fmt == "jsonl":
        return parse_jsonl(name, text)
    if fmt == "html":
        return [parse_html(text, name)]
    title = first_heading(text) if fmt == "markdown" else ""
    return [Parsed(title=title or first_line(text) or PurePosixPath(name).stem, text=text, format=fmt)]


def first_heading(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:200]


def parse_jsonl(name: str, text: str) -> list[Parsed]:
    docs = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{name} line {n}: not valid JSON ({exc.msg}); fix or remove the line") from exc
        if not isinstance(record, dict) or not str(record.get("text", "")).strip():
            raise SourceError(f"{name} line {n}: a record needs a non-empty 'text' field")
        part = str(record.get("id") or n)
        meta = {k: str(v) for k, v in record.items() if k not in ("id", "title", "text")}
        docs.append(Parsed(title=str(record.get("title") or part), text=str(record["text"]),
                           format="jsonl", part=part, metadata=meta))
    return docs


class _HTMLText(HTMLParser):
    SKIP: ClassVar[set[str]] = {"script", "style", "noscript", "template", "head"}
    BLOCK: ClassVar[set[str]] = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section",
             "article", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")
        if tag in ("h1", "h2", "h3") and not self._skip:
            self.parts.append("#" * int(tag[1]) + " ")
        if tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.parts.append(data)


def parse_html(text: str, name: str) -> Parsed:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    lines = [" ".join(ln.split()) for ln in "".join(parser.parts).splitlines()]
    body = "\n".join(ln for ln in lines if ln)
    if not body:
        raise SourceError(f"{name}: the HTML page has no visible text")
    title = " ".join("".join(parser.title).split()) or first_heading(body) or PurePosixPath(name).stem
    return Parsed(title=title, text=body, format="html")
