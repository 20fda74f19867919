"""Pure text functions: normalise a document and cut it into chunks.

Word-count based for now; the transforms issue makes it token-aware. A chunk
starts at a heading when the current one already has some text, so chunks
rarely straddle sections; consecutive chunks share `overlap` words.
"""

from __future__ import annotations

import re
import unicodedata

CHUNKER_VERSION = "words-180-30-v1"
MAX_WORDS = 180
OVERLAP_WORDS = 30
MIN_WORDS_BEFORE_HEADING_BREAK = 40

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEADING = re.compile(r"^#{1,6}\s")


def normalise(text: str) -> str:
    """NFKC, no control characters, single spaces inside lines, no blank-line runs."""
    text = _CONTROL.sub("", unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n"))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def chunk(text: str, *, max_words: int = MAX_WORDS, overlap: int = OVERLAP_WORDS) -> list[str]:
    """Cut normalised text into chunks of at most `max_words` words."""
    if overlap >= max_words:
        raise ValueError(f"overlap ({overlap}) must be smaller than max_words ({max_words})")
    chunks: list[str] = []
    current: list[str] = []  # lines of the chunk being built
    words = 0

    def flush() -> list[str]:
        nonlocal words
        if current:
            chunks.append("\n".join(current).strip())
        tail = " ".join(current).split()[-overlap:] if overlap else []
        words = len(tail)
        return [" ".join(tail)] if tail else []

    for line in text.split("\n"):
        line_words = line.split()
        if _HEADING.match(line) and words >= MIN_WORDS_BEFORE_HEADING_BREAK:
            flush()
            current, words = [], 0  # no overlap across a section break
        while len(line_words) + words > max_words:
            room = max_words - words
            current.append(" ".join(line_words[:room]))
            line_words = line_words[room:]
            current = flush()
        if line_words or line == "":
            current.append(" ".join(line_words))
            words += len(line_words)
    if any(part.strip() for part in current) and (not chunks or words > (overlap if chunks else 0)):
        chunks.append("\n".join(current).strip())
    return [c for c in chunks if c]
