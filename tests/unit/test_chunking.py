from __future__ import annotations

import pytest

from transforms.chunking import MAX_WORDS, OVERLAP_WORDS, chunk, normalise


def words(prefix: str, n: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_normalise_strips_controls_and_collapses_space() -> None:
    assert normalise("a\x00b  c\r\n\r\n\r\n\td\u00a0e ") == "ab c\n\nd e"


def test_short_text_is_one_chunk() -> None:
    assert chunk("# Title\nhello world") == ["# Title\nhello world"]


def test_long_text_is_cut_with_overlap_and_nothing_lost() -> None:
    text = words("w", 500)
    chunks = chunk(text)
    assert all(len(c.split()) <= MAX_WORDS for c in chunks)
    assert chunks[1].split()[:OVERLAP_WORDS] == chunks[0].split()[-OVERLAP_WORDS:]
    seen = {w for c in chunks for w in c.split()}
    assert seen == set(text.split())


def test_a_heading_starts_a_new_chunk() -> None:
    text = f"# A\n{words('a', 60)}\n# B\n{words('b', 60)}"
    chunks = chunk(text)
    assert len(chunks) == 2 and chunks[1].startswith("# B") and "a59" not in chunks[1]


def test_chunking_is_stable() -> None:
    text = f"# A\n{words('a', 400)}\n## B\n{words('b', 90)}"
    assert chunk(text) == chunk(text)


def test_overlap_must_be_smaller_than_chunk() -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk("x", max_words=10, overlap=10)
