"""HTML and XML to text. HTML loses scripts, styles and hidden elements and keeps
headings (as Markdown `#`) and table rows (cells joined by `|`). XML may not
declare entities: that is how billion-laughs expansion bombs work."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import ClassVar

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from ingest.errors import SourceError

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0", re.I)


class _HTMLText(HTMLParser):
    SKIP: ClassVar[set[str]] = {"script", "style", "noscript", "template", "svg", "iframe", "object"}
    VOID: ClassVar[set[str]] = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                                "source", "track", "wbr"}
    BLOCK: ClassVar[set[str]] = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table",
                                 "section", "article", "ul", "ol", "pre", "blockquote", "dt", "dd"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.hidden_dropped = 0
        self._skip: list[str] = []  # open tags whose content is dropped
        self._skipping: Counter[str] = Counter()  # the same tags, counted: membership in O(1), not O(depth)
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self._skip:
            self._in_title = True
            return
        attr = {k: (v or "") for k, v in attrs}
        hidden = ("hidden" in attr or attr.get("aria-hidden", "").lower() == "true"
                  or bool(_HIDDEN_STYLE.search(attr.get("style", ""))))
        if tag in self.VOID:
            if tag == "br" and not self._skip:
                self.parts.append("\n")
            return
        if self._skip or tag in self.SKIP or hidden:
            if not self._skip and hidden and tag not in self.SKIP:
                self.hidden_dropped += 1
            self._skip.append(tag)
            self._skipping[tag] += 1
            return
        if tag in self.BLOCK:
            self.parts.append("\n")
        if tag in ("h1", "h2", "h3", "h4"):
            self.parts.append("#" * int(tag[1]) + " ")
        if tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif self._skip:
            # Unmatched end tags are common; a scan of the stack for each made
            # many of them quadratic.
            if self._skipping[tag]:
                while self._skip:
                    popped = self._skip.pop()
                    self._skipping[popped] -= 1
                    if popped == tag:
                        break
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_to_text(text: str, name: str) -> tuple[str, str, int]:
    """(title, body, hidden elements dropped)."""
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    lines = [" ".join(ln.split()) for ln in "".join(parser.parts).splitlines()]
    body = "\n".join(ln for ln in lines if ln)
    if not body:
        raise SourceError(f"{name}: the HTML page has no visible text")
    title = " ".join("".join(parser.title).split()) or PurePosixPath(name).stem
    return title, body, parser.hidden_dropped


def xml_to_text(data: bytes, name: str) -> str:
    try:
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SourceError(f"{name}: the XML declares entities or external references ({type(exc).__name__}), "
                          "which can expand without bound (billion laughs); remove the DOCTYPE entities") from exc
    except SafeET.ParseError as exc:
        raise SourceError(f"{name}: not well-formed XML ({exc}); fix the file") from exc
    text = "\n".join(t.strip() for t in root.itertext() if t.strip())
    if not text:
        raise SourceError(f"{name}: the XML document has no text")
    return text
