"""The scan cache spares parsing unchanged files, and never hides a change: every
scan with the cache decides exactly what a scan without it decides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from governance.contracts import DocumentEvent, LogPosition
from governance.privacy import PrivacyPolicy
from governance.residency import DEFAULT_POLICY
from ingest import parsers, scancache, sources
from ingest.lake import Lake
from ingest.sources import IngestReport, Source, scan
from ingest.tables import RAW, raw_row

Outcome = tuple[list[tuple[str, str, int, str]], int, int, int, int]


def land(lake: Lake, events: list[DocumentEvent]) -> None:
    if events:
        lake.write(RAW, [raw_row(e, LogPosition(epoch="e", topic="raw", partition=0, offset=n))
                         for n, e in enumerate(events)])


def outcome(report: IngestReport) -> Outcome:
    """What a scan decided, apart from event ids' timestamps."""
    published = sorted((e.document_id, e.op, e.version, e.content_hash) for e in report.published)
    return published, report.unchanged, report.deleted, report.held, len(report.dead_letters)


class World:
    """A source folder, its raw lake, and scans with and without the cache."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "src"
        self.root.mkdir()
        self.lake = Lake(tmp / "lake")
        self.cache = tmp / "state"
        self.source = Source(self.root, "acme", "EU")

    def scan(self, *, cached: bool = True, privacy: PrivacyPolicy | None = None) -> IngestReport:
        """Scan with the cache, check that a scan without it decides the same, land the events."""
        plain = scan(self.source, DEFAULT_POLICY, self.lake, privacy=privacy)
        report = scan(self.source, DEFAULT_POLICY, self.lake, privacy=privacy, cache_dir=self.cache if cached else None)
        assert outcome(report) == outcome(plain)
        land(self.lake, report.published)
        return report


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    (w.root / "a.md").write_text("# A\nalpha one")
    (w.root / "b.txt").write_text("beta two")
    (w.root / "records.jsonl").write_text('{"id": "r1", "text": "first record"}\n{"id": "r2", "text": "second"}\n')
    first = w.scan()
    assert len(first.published) == 4 and first.cached == 0
    return w


def test_unchanged_files_are_not_parsed_again(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = parsers.parse

    def counting(name: str, data: bytes, **kw: Any) -> Any:
        parsed.append(name)
        return real(name, data, **kw)

    monkeypatch.setattr("ingest.sources.parse", counting)
    report = scan(world.source, DEFAULT_POLICY, world.lake, cache_dir=world.cache)
    assert report.cached == 3 and report.unchanged == 4 and report.published == [] and parsed == []

    (world.root / "b.txt").write_text("beta two, edited")
    report = scan(world.source, DEFAULT_POLICY, world.lake, cache_dir=world.cache)
    assert parsed == ["b.txt"] and report.cached == 2
    assert [(e.document_id, e.version) for e in report.published] == [("acme:b.txt", 2)]


class Counted:
    """Counts the files a scan reads and the paths it redacts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[str] = []
        self.redacted: list[str] = []
        read, redact = sources.read_source_file, sources.redact_identifier

        def reading(path: str, rel: str, *args: Any) -> bytes:
            self.reads.append(rel)
            return read(path, rel, *args)

        def redacting(value: str, key: bytes) -> Any:
            self.redacted.append(value)
            return redact(value, key)

        monkeypatch.setattr(sources, "read_source_file", reading)
        monkeypatch.setattr(sources, "redact_identifier", redacting)


def test_a_settled_unchanged_file_is_neither_read_nor_redacted(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scancache, "SETTLE_NS", 0)  # the fixture's files count as long still
    world.scan()  # the signatures taken now are settled
    counted = Counted(monkeypatch)
    report = scan(world.source, DEFAULT_POLICY, world.lake, cache_dir=world.cache)
    assert report.cached == 3 and report.unchanged == 4 and report.published == []
    assert counted.reads == [] and counted.redacted == []

    (world.root / "b.txt").write_text("beta two, edited")
    report = scan(world.source, DEFAULT_POLICY, world.lake, cache_dir=world.cache)
    assert counted.reads == ["b.txt"] and report.cached == 2
    assert [(e.document_id, e.version) for e in report.published] == [("acme:b.txt", 2)]


def test_a_signature_taken_while_the_file_was_fresh_vouches_for_nothing(world: World,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Written just now: a second write within the same clock tick would leave the
    # signature as it is, so the bytes are read and hashed again.
    counted = Counted(monkeypatch)
    assert scan(world.source, DEFAULT_POLICY, world.lake, cache_dir=world.cache).cached == 3
    assert sorted(counted.reads) == ["a.md", "b.txt", "records.jsonl"]


@pytest.mark.parametrize("settle_ns", [0, scancache.SETTLE_NS])
def test_same_size_and_mtime_but_other_bytes_is_a_change(world: World, monkeypatch: pytest.MonkeyPatch,
                                                          settle_ns: int) -> None:
    monkeypatch.setattr(scancache, "SETTLE_NS", settle_ns)
    world.scan()
    path = world.root / "a.md"
    before = path.stat()
    path.write_text("# A\nalpha 1ne")  # as long as before
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    report = world.scan()  # the write moved the ctime, which no tool can set back
    assert [(e.document_id, e.version) for e in report.published] == [("acme:a.md", 2)]


@pytest.mark.parametrize("settle_ns", [0, scancache.SETTLE_NS])
def test_replaced_deleted_and_shrunk_files(world: World, monkeypatch: pytest.MonkeyPatch, settle_ns: int) -> None:
    monkeypatch.setattr(scancache, "SETTLE_NS", settle_ns)
    world.scan()
    (world.root / "new.md").write_text("# B\nbeta two, in another file")
    os.replace(world.root / "new.md", world.root / "b.txt")  # replaced by a rename
    (world.root / "a.md").unlink()
    (world.root / "records.jsonl").write_text('{"id": "r1", "text": "first record"}\n')
    report = world.scan()
    assert sorted((e.document_id, e.op) for e in report.published) == [
        ("acme:a.md", "delete"), ("acme:b.txt", "upsert"), ("acme:records.jsonl#r2", "delete")]
    # A file that comes back with the text it had is a new version: the lake says it was deleted.
    (world.root / "a.md").write_text("# A\nalpha one")
    assert [(e.document_id, e.version) for e in world.scan().published] == [("acme:a.md", 3)]


def test_a_corrupt_or_missing_cache_means_a_full_scan(world: World) -> None:
    [cache_file] = world.cache.iterdir()
    cache_file.write_text('{"version": 1, "context": "')
    report = world.scan()
    assert report.cached == 0 and report.unchanged == 4 and report.published == []
    assert world.scan().cached == 3  # rewritten whole by the full scan
    cache_file.write_bytes(b"\x00\xff garbage")
    (world.root / "b.txt").write_text("beta, changed while the cache was broken")
    assert [e.document_id for e in world.scan().published] == ["acme:b.txt"]
    cache_file.unlink()
    assert world.scan().cached == 0


def test_other_settings_or_lake_state_bypass_the_cache(world: World) -> None:
    # Another privacy policy may redact differently: every file is parsed again.
    assert world.scan(privacy=PrivacyPolicy(default={"email": "keep"})).cached == 0
    assert world.scan().cached == 0  # and back: the cache was rewritten under the other policy
    # The lake no longer holds the cached version as latest (a delete request): parsed, and held back.
    request = DocumentEvent.new(op="delete", tenant="acme", document_id="acme:a.md", version=2,
                                jurisdiction="EU", region="eu-central", source_uri=(world.root / "a.md").as_uri(),
                                source_root=world.root.resolve().as_uri(), requested="del-1")
    land(world.lake, [request])
    report = world.scan()
    assert report.held == 1 and report.cached == 2 and report.published == []


def test_a_failing_file_is_not_cached_and_keeps_its_dead_letter(world: World) -> None:
    (world.root / "bad.bin").write_bytes(b"\x00\x01")
    assert len(world.scan().dead_letters) == 1
    again = world.scan()
    assert len(again.dead_letters) == 1 and again.cached == 3


def entry(name: str) -> scancache.FileEntry:
    return scancache.FileEntry(name, (1, 2, 3, 4), True, "ab" * 32, ((f"acme:{name}", "c1"), (f"acme:{name}#r", "c2")))


def test_two_scans_of_one_folder_at_once_keep_both_their_changes(tmp_path: Path) -> None:
    """A save writes the entries that changed, not the whole cache: two runs scanning one
    folder at once each keep what they learnt (the last writer's copy replaced the other's
    whole before)."""
    def opened() -> scancache.ScanCache:
        return scancache.ScanCache.open(tmp_path, root_uri="file:///src", tenant="acme", context="c")

    base = opened()
    base.put("t-old", entry("old.md"))
    base.save()
    first, second = opened(), opened()
    first.put("t-a", entry("a.md"))
    second.put("t-b", entry("b.md"))
    second.forget("t-old")
    first.save()
    second.save()
    assert opened().entries == {"t-a": entry("a.md"), "t-b": entry("b.md")}
    # An erasure forgets the entries that produced an erased document, in every cache.
    assert scancache.forget_documents(tmp_path, lambda token, e: "acme:a.md" in dict(e.docs)) == 1
    assert set(opened().entries) == {"t-b"}
    # Another context (settings) starts it again, empty.
    other = scancache.ScanCache.open(tmp_path, root_uri="file:///src", tenant="acme", context="d")
    assert other.entries == {}
    other.put("t-c", entry("c.md"))
    other.save()
    assert opened().entries == {} and set(scancache.ScanCache.open(
        tmp_path, root_uri="file:///src", tenant="acme", context="d").entries) == {"t-c"}


def test_a_forgotten_entry_leaves_no_trace_in_the_cache_file(tmp_path: Path) -> None:
    """An erasure forgets the entries of erased documents: their ids must not stay behind in
    a free page of the file."""
    cache = scancache.ScanCache.open(tmp_path, root_uri="file:///src", tenant="acme", context="c")
    for n in range(50):
        cache.put(f"t{n}", entry(f"subject-{n:03d}.md"))
    cache.save()
    scancache.forget_documents(tmp_path, lambda token, e: True)
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"subject-0" not in stored
