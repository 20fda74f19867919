"""The dead-letter table's gateway answers with typed records, over real Parquet and DuckDB."""

from __future__ import annotations

from pathlib import Path

from governance.contracts import DeadLetter, LogPosition
from ingest import dead_letter_table
from ingest.dead_letter_table import LetterTrace, ReasonCount
from ingest.errors import SourceError
from ingest.lake import Lake
from ingest.tables import DEAD_LETTERS, dead_letter_row


def letter(stage: str, error: Exception, uri: str, *, tenant: str = "acme", event_id: str = "",
           sha: str = "") -> DeadLetter:
    return DeadLetter.new(stage=stage, error=error, source_uri=uri, key=event_id or uri, tenant=tenant,
                          jurisdiction="EU", region="eu-central", event_id=event_id, content_sha256=sha)


def filled(tmp_path: Path) -> tuple[Lake, list[DeadLetter]]:
    lake = Lake(tmp_path / "lake")
    letters = [
        letter("ingest", SourceError("a.pdf: cannot be parsed"), "file:///src/a.pdf", sha="ab12"),
        letter("ingest", SourceError("b.pdf: cannot be parsed"), "file:///src/b.pdf"),
        letter("transform", ValueError("no text"), "file:///src/c.md", event_id="ev-c"),
        letter("transform", ValueError("no text"), "file:///src/d.md", tenant="globex", event_id="ev-d"),
    ]
    lake.write(DEAD_LETTERS, [dead_letter_row(d, LogPosition(epoch="e", topic="dl", partition=0, offset=n))
                              for n, d in enumerate(letters)])
    return lake, letters


def test_an_empty_or_missing_table_answers_empty(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "no-lake-here")
    assert dead_letter_table.letter_ids(lake) == set()
    assert dead_letter_table.failed_event_ids(lake) == set()
    assert dead_letter_table.reasons(lake) == []
    assert dead_letter_table.letters_of_tenant(lake, "acme") == []


def test_ids_and_failed_events(tmp_path: Path) -> None:
    lake, letters = filled(tmp_path)
    assert dead_letter_table.letter_ids(lake) == {d.dead_letter_id for d in letters}
    assert dead_letter_table.failed_event_ids(lake) == {"ev-c", "ev-d"}  # an ingest failure has no event


def test_reasons_most_frequent_first(tmp_path: Path) -> None:
    lake, _ = filled(tmp_path)
    reasons = dead_letter_table.reasons(lake)
    assert sorted(reasons, key=lambda r: r.stage) == [ReasonCount("ingest", "SourceError", 2),
                                                      ReasonCount("transform", "ValueError", 2)]
    assert [r.count for r in reasons] == [2, 2]


def test_letters_of_a_tenant_are_what_erasure_reads(tmp_path: Path) -> None:
    lake, letters = filled(tmp_path)
    got = sorted(dead_letter_table.letters_of_tenant(lake, "acme"), key=lambda d: d.source_uri)
    assert got == [LetterTrace(dead_letter_id=d.dead_letter_id, event_id=d.event_id, source_uri=d.source_uri,
                               content_sha256=d.content_sha256, reason=d.reason, original_uri=d.original_uri)
                   for d in letters[:3]]
    assert [d.event_id for d in dead_letter_table.letters_of_tenant(lake, "globex")] == ["ev-d"]
    assert dead_letter_table.letters_of_tenant(lake, "nobody") == []
