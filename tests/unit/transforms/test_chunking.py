"""Token-aware, structure-aware, stable chunking with the model's own tokenizer."""

from __future__ import annotations

import itertools

import pytest

from transforms.chunking import chunk, normalise, strip_invisible
from transforms.tokens import TokenCounter, token_counter
from vectorstore.embedder import default_model_path


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return token_counter(default_model_path())


def words(prefix: str, n: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_normalise_strips_controls_and_terminal_escapes_and_keeps_pages() -> None:
    raw = "a\x00b  \x1b[31mred\x1b[0m\x07 c\r\n\r\n\r\n\td\u00a0e \fpage  two\n"
    assert normalise(raw) == "ab red c\n\nd e\fpage two"


def test_invisible_characters_survive_normalise_for_the_screener_then_go() -> None:
    text = "pay\u200bment \u202eevil\u202c"
    assert normalise(text) == text
    assert strip_invisible(text) == "payment evil"


def test_no_chunk_exceeds_the_token_budget(counter: TokenCounter) -> None:
    text = "# Title\n" + "\n".join(words(f"line{n}w", 37) + "." for n in range(40)) + "\n" + words("z", 900)
    pieces = chunk(normalise(text), counter, max_tokens=120, overlap=20)
    assert len(pieces) > 5
    assert all(counter.count(p.text) <= 120 and p.tokens == counter.count(p.text) for p in pieces)
    assert all(w in " ".join(p.text for p in pieces) for w in ("z0", "z899", "line39w36."))


def test_a_heading_starts_a_new_chunk_and_names_its_section(counter: TokenCounter) -> None:
    text = f"# Guide\n{words('a', 30)}\n## Setup\n{words('b', 30)}\n### Cables\n{words('c', 30)}"
    pieces = chunk(normalise(text), counter)
    assert [p.section for p in pieces] == ["Guide", "Guide > Setup", "Guide > Setup > Cables"]
    assert pieces[1].text.startswith("## Setup") and "a29" not in pieces[1].text


def test_consecutive_chunks_of_a_section_overlap(counter: TokenCounter) -> None:
    text = "\n".join(f"Sentence number {n} says something short." for n in range(60))
    pieces = chunk(normalise(text), counter, max_tokens=60, overlap=20)
    for before, after in itertools.pairwise(pieces):
        shared = set(before.text.split("\n")) & set(after.text.split("\n"))
        assert before.text.split("\n")[-1] in shared and after.text.split("\n")[0] in shared


def test_an_edit_in_one_section_changes_only_that_sections_chunks(counter: TokenCounter) -> None:
    sections = [f"## Part {n}\n" + "\n".join(f"Part {n} line {k} " + words("w", 20) for k in range(12))
                for n in range(4)]
    before = chunk(normalise("\n".join(sections)), counter)
    sections[2] = sections[2].replace("Part 2 line 5", "Part 2 line five, edited")
    after = chunk(normalise("\n".join(sections)), counter)
    changed = {p.text for p in after} - {p.text for p in before}
    assert changed and all(p.section == "Part 2" for p in after if p.text in changed)
    assert [p for p in before if p.section != "Part 2"] == [p for p in after if p.section != "Part 2"]


def test_pages_are_kept_for_citations(counter: TokenCounter) -> None:
    pieces = chunk(normalise(f"{words('p', 150)}\f{words('q', 150)}\f\f{words('r', 400)}"), counter, max_tokens=160)
    first_page = {"p": 1, "q": 2, "r": 4}
    assert [p.page for p in pieces] == [first_page[p.text[0]] for p in pieces]
    assert {p.page for p in pieces} == {1, 2, 4}


def test_chunking_is_stable(counter: TokenCounter) -> None:
    text = f"# A\n{words('a', 400)}\n## B\n{words('b', 90)}"
    assert chunk(text, counter) == chunk(text, counter)


def test_overlap_must_be_smaller_than_chunk(counter: TokenCounter) -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk("x", counter, max_tokens=10, overlap=10)
