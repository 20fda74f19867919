"""Pure text functions: normalise a document and cut it into chunks.

Chunks are measured in the embedding model's own tokens, so none is longer than
the model reads. They follow the document's structure: a section (a Markdown
heading and what follows it) is chunked on its own, so a chunk does not straddle
a heading and an edit in one section changes only that section's chunks.
Consecutive chunks of a section overlap by a few whole lines or sentences. PDF
pages are separated by form feeds; each chunk knows the page it starts on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from transforms.tokens import TokenCounter

CHUNKER_VERSION = "tokens-200-32-v2"
MAX_TOKENS = 200  # leaves room for the title in a 256-token model
OVERLAP_TOKENS = 32
PAGE_BREAK = "\f"

_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # keeps \t, \n and \f
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True)
class Piece:
    text: str
    section: str  # heading path, "Policy > Leave"
    page: int | None  # page the chunk starts on, for paged documents
    tokens: int


@dataclass
class _Unit:
    text: str
    page: int
    tokens: int = 0


def normalise(text: str) -> str:
    """NFKC; no terminal escapes or control characters; single spaces inside lines;
    no runs of blank lines. Page breaks stay. Invisible characters stay too: the
    screener must see them; `strip_invisible` removes them afterwards."""
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", _ESCAPES.sub("", text))
    return PAGE_BREAK.join(_normalise_page(page) for page in text.split(PAGE_BREAK))


def _normalise_page(page: str) -> str:
    out: list[str] = []
    for line in (" ".join(line.split()) for line in page.split("\n")):
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def strip_invisible(text: str) -> str:
    """Remove zero-width, bidi-control and tag characters (after screening)."""
    return _INVISIBLE.sub("", text)


def _sections(text: str) -> list[tuple[str, list[_Unit]]]:
    """(heading path, units) in order; a heading line is the first unit of its section."""
    paged = len(text.split(PAGE_BREAK)) > 1
    sections: list[tuple[str, list[_Unit]]] = [("", [])]
    path: list[tuple[int, str]] = []
    for page_no, page in enumerate(text.split(PAGE_BREAK), start=1):
        for line in page.split("\n"):
            if not line.strip():
                continue
            heading = _HEADING.match(line)
            if heading:
                level = len(heading.group(1))
                path = [(lvl, name) for lvl, name in path if lvl < level] + [(level, heading.group(2).strip())]
                sections.append((" > ".join(name for _, name in path), []))
            sections[-1][1].append(_Unit(line, page_no if paged else 0))
    merged: list[tuple[str, list[_Unit]]] = []
    carry: list[_Unit] = []
    for name, units in sections:
        if not units:
            continue
        if len(units) == 1 and _HEADING.match(units[0].text):
            carry += units  # a heading with no body joins the next section
            continue
        merged.append((name, carry + units))
        carry = []
    if carry:
        merged.append(("", carry))
    return merged


def _split_long(unit: _Unit, counter: TokenCounter, max_tokens: int) -> list[_Unit]:
    """A unit longer than a chunk, cut by sentences, then by words."""
    out: list[_Unit] = []
    for sentence in _SENTENCE.split(unit.text):
        n = counter.count(sentence)
        if n <= max_tokens:
            out.append(_Unit(sentence, unit.page, n))
            continue
        words = sentence.split()
        window: list[str] = []
        for word in words:
            if window and counter.count(" ".join([*window, word])) > max_tokens:
                out.append(_Unit(" ".join(window), unit.page))
                window = []
            window.append(word)
        if window:
            out.append(_Unit(" ".join(window), unit.page))
    for u in out:
        u.tokens = u.tokens or counter.count(u.text)
    return out


def chunk(text: str, counter: TokenCounter, *, max_tokens: int = MAX_TOKENS,
          overlap: int = OVERLAP_TOKENS) -> list[Piece]:
    """Cut normalised text into chunks of at most `max_tokens` model tokens."""
    if not 0 <= overlap < max_tokens:
        raise ValueError(f"overlap ({overlap}) must be at least 0 and smaller than max_tokens ({max_tokens})")
    pieces: list[Piece] = []
    for name, raw_units in _sections(text):
        counts = counter.count_many([u.text for u in raw_units])
        units: list[_Unit] = []
        for unit, n in zip(raw_units, counts, strict=True):
            unit.tokens = n
            units.extend(_split_long(unit, counter, max_tokens) if n > max_tokens else [unit])
        current: list[_Unit] = []
        for unit in units:
            # +1: joining two units costs about one token (the newline is dropped, words merge rarely)
            if current and sum(u.tokens + 1 for u in current) + unit.tokens > max_tokens:
                pieces.append(_piece(name, current, counter))
                current = _tail(current, overlap)
                if sum(u.tokens + 1 for u in current) + unit.tokens > max_tokens:
                    current = []
            current.append(unit)
        if current:
            pieces.append(_piece(name, current, counter))
    return pieces


def _tail(units: list[_Unit], overlap: int) -> list[_Unit]:
    tail: list[_Unit] = []
    for unit in reversed(units):
        if sum(u.tokens + 1 for u in tail) + unit.tokens > overlap:
            break
        tail.insert(0, unit)
    return tail


def _piece(section: str, units: list[_Unit], counter: TokenCounter) -> Piece:
    text = "\n".join(u.text for u in units)
    return Piece(text=text, section=section, page=units[0].page or None, tokens=counter.count(text))
