"""Personal data in file names, record ids and metadata columns never leaves the source:
document ids and source URIs carry a keyed hash instead, computed alike everywhere the
scan compares ids with the raw lake, so reruns publish nothing and deletes still work."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from governance.contracts import DocumentEvent, LogPosition
from governance.pii import identify
from governance.privacy import tenant_key
from governance.residency import DEFAULT_POLICY
from ingest.lake import Lake
from ingest.sources import Source, scan
from ingest.tables import RAW, raw_row

SECRET = b"k"
EMAIL = "jane.doe@example.com"
SSN = "536-22-8741"
VALUES = ("jane", "doe@", "doe%40", "8741")


def land(lake: Lake, events: list[DocumentEvent]) -> None:
    if events:
        lake.write(RAW, [raw_row(e, LogPosition(epoch="e", topic="raw", partition=0, offset=n))
                         for n, e in enumerate(events)])


def leaks(*texts: str) -> list[str]:
    return [v for t in texts for v in VALUES if v in t.lower() or v in unquote(t).lower()]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "crm").mkdir(parents=True)
    (root / "crm" / f"{EMAIL}.md").write_text("# Notes\nCalled about the invoice.\n")
    (root / "crm" / "contacts.jsonl").write_text(
        json.dumps({"id": EMAIL, "text": "Prefers mornings.", "ssn": SSN, "city": "Berlin"}) + "\n"
        + json.dumps({"id": "JANE.DOE@EXAMPLE.COM", "text": "Second record, same address."}) + "\n")
    (root / "crm" / f"{EMAIL}.bin").write_bytes(b"\x00\x01")  # fails to parse: a dead letter
    return root


def scan_once(root: Path, lake: Lake, cache: Path | None) -> list[DocumentEvent]:
    report = scan(Source(root, "acme", "EU"), DEFAULT_POLICY, lake, secret=SECRET, cache_dir=cache)
    for letter in report.dead_letters:
        assert leaks(letter.reason, letter.source_uri) == [], letter
    land(lake, report.published)
    return report.published


def test_identifiers_are_redacted_and_reruns_publish_nothing(folder: Path, tmp_path: Path) -> None:
    lake, cache = Lake(tmp_path / "lake"), tmp_path / "state"
    first = scan_once(folder, lake, cache)
    assert len(first) == 3 and len({e.document_id for e in first}) == 3
    for e in first:
        assert leaks(e.document_id, e.source_uri, e.title, e.text, json.dumps(e.metadata)) == [], e
    key = tenant_key(SECRET, "acme")
    named = [e for e in first if identify(EMAIL, key) in e.subjects]
    assert len(named) == 3, "the file name and both record ids name the subject"
    assert any(identify(SSN, key) in e.subjects for e in first)
    # The cache is a SQLite file: its text is stored as UTF-8, between binary pages.
    assert leaks(*(p.read_bytes().decode("utf-8", "replace") for p in cache.rglob("*") if p.is_file())) == []

    # Every comparison with the raw lake uses the same ids: cached, uncached, narrowed.
    assert scan_once(folder, lake, cache) == []
    assert scan_once(folder, lake, None) == []
    narrowed = Source(folder, "acme", "EU", files=(f"crm/{EMAIL}.md",))
    assert scan(narrowed, DEFAULT_POLICY, lake, secret=SECRET).published == []

    # A vanished file is deleted under its redacted id, also from a source narrowed to it.
    md_id = next(e.document_id for e in first if e.format == "markdown")
    (folder / "crm" / f"{EMAIL}.md").unlink()
    [gone] = scan(narrowed, DEFAULT_POLICY, lake, secret=SECRET).published
    assert (gone.op, gone.document_id) == ("delete", md_id)
    assert leaks(gone.source_uri) == []
    [again] = scan_once(folder, lake, cache)
    assert (again.op, again.document_id) == ("delete", md_id)
    assert scan_once(folder, lake, cache) == []
