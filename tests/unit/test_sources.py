"""The file source decides what to publish against what the raw lake already holds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from governance.contracts import DocumentEvent, LogPosition
from governance.residency import DEFAULT_POLICY
from ingest.lake import Lake
from ingest.sources import Source, scan
from ingest.tables import RAW, raw_row


def land(lake: Lake, events: list[DocumentEvent]) -> None:
    lake.write(RAW, [raw_row(e, LogPosition(epoch="e", topic="raw", partition=0, offset=n))
                     for n, e in enumerate(events)])


def test_new_unchanged_changed_deleted_and_bad(tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("# A\nalpha")
    (root / "sub" / "b.txt").write_text("beta")
    (root / "ignored.bin").write_bytes(b"\x00")
    lake = Lake(tmp_path / "lake")
    source = Source(root, "acme", "EU")

    first = scan(source, DEFAULT_POLICY, lake)
    assert sorted(e.document_id for e in first.published) == ["acme:a.md", "acme:sub/b.txt"]
    assert {e.region for e in first.published} == {"eu-central"} and first.files == 2
    land(lake, first.published)

    assert scan(source, DEFAULT_POLICY, lake).published == []

    (root / "a.md").write_text("# A\nalpha, edited")
    (root / "sub" / "b.txt").unlink()
    (root / "c.md").write_bytes(b"")
    second = scan(source, DEFAULT_POLICY, lake)
    assert sorted((e.document_id, e.op, e.version) for e in second.published) == [
        ("acme:a.md", "upsert", 2), ("acme:sub/b.txt", "delete", 2)]
    assert [d.reason for d in second.dead_letters] == ["c.md: the file is empty; remove it or give it content"]
    assert second.dead_letters[0].tenant == "acme"
    assert all(e.event_time <= datetime.now(UTC) for e in second.published)
