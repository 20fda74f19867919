"""`aifactory repair` folds row keys stored twice, as an older version left them (two
runs at once on one home landed each other's rows again), over real Parquet and DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from governance.contracts import ChunkRecord, LogPosition, content_hash
from ingest.lake_reads import repeated_keys, row_count
from pipeline.factory import Factory
from pipeline.quality import duplicates
from pipeline.repair import repair, repeated_rows
from pipeline.settings import FactorySettings
from pipeline.status import status
from transforms.tables import CHUNKS, chunk_row

AT = LogPosition(epoch="e", topic="raw", partition=0, offset=0)
DAY = datetime(2026, 3, 2, 9, tzinfo=UTC)
NEXT_DAY = datetime(2026, 3, 3, 0, 1, tzinfo=UTC)


def chunk(tenant: str, no: int, *, when: datetime = DAY) -> dict[str, object]:
    event_id = f"ev-{tenant}-doc-1"
    text = f"chunk {no} of the document"
    record = ChunkRecord(row_id=f"{event_id}-{no}", chunk_id=f"{tenant}:doc:{no}", op="upsert", event_id=event_id,
                         tenant=tenant, jurisdiction="EU", region="eu-central", document_id=f"{tenant}:doc",
                         version=1, chunk_no=no, chunk_count=6, text=text, content_hash=content_hash(text),
                         title="doc", source_uri="file:///src/doc.md", event_time=when, raw=AT, chunker="test-1")
    return chunk_row(record, LogPosition(epoch="e", topic="chunks", partition=0, offset=no))


@pytest.fixture
def factory(tmp_path: Path) -> Factory:
    return Factory(FactorySettings(home=tmp_path / "home"))


def folder_files(factory: Factory, tenant: str, day: str = "2026-03-02") -> list[Path]:
    return sorted((factory.lake.root / CHUNKS.name / f"region=eu-central/tenant={tenant}/date={day}").glob("*.parquet"))


def test_repeated_rows_are_reported_then_folded_once(factory: Factory) -> None:
    lake = factory.lake
    # Run one landed chunks 0-4; run two, at once, landed them again with chunk 5: a second part file.
    lake.write(CHUNKS, [chunk("acme", n) for n in range(5)])
    lake.write(CHUNKS, [chunk("acme", n) for n in range(6)])
    [clean] = [lake.root / k for k in lake.write(CHUNKS, [chunk("globex", n) for n in range(3)])]
    clean_mtime = clean.stat().st_mtime_ns
    assert len(folder_files(factory, "acme")) == 2

    assert repeated_keys(lake, CHUNKS) == 5 and row_count(lake, CHUNKS) == 14
    assert repeated_rows(lake) == {"raw": 0, "chunks": 5, "dead_letters": 0}
    seen = status(factory)
    assert seen["lake"]["repeated_keys"]["chunks"] == 5 and seen["totals"]["repeated_keys"] == 5
    assert duplicates(factory).repeated["chunks"] == 5  # what the duplicate_ratio check fails on

    said: list[str] = []
    planned = repair(factory, dry_run=True, say=said.append)
    assert planned.dry_run and planned.repeated == 5 and planned.folders == 1
    chunks = planned.tables["chunks"]
    assert (chunks.rows_before, chunks.rows_after) == (14, 9)
    assert chunks.folders == ["chunks/region=eu-central/tenant=acme/date=2026-03-02"]
    assert chunks.dropped_by_tenant == {"acme": 5}
    assert len(said) == 1 and "would fold" in said[0]
    assert row_count(lake, CHUNKS) == 14 and len(folder_files(factory, "acme")) == 2  # the dry run changed nothing

    said.clear()
    done = repair(factory, say=said.append)
    assert not done.dry_run and done.repeated == done.dropped == 5 and done.folders == 1 and done.chunks_changed
    assert (done.tables["chunks"].rows_before, done.tables["chunks"].rows_after) == (14, 9)
    assert done.tables["raw"].folders == [] and done.tables["raw"].rows_after == 0
    assert len(said) == 1 and "2 file(s) folded into 1" in said[0]
    assert row_count(lake, CHUNKS) == len(lake.keys(CHUNKS)) == 9 and repeated_keys(lake, CHUNKS) == 0
    assert len(folder_files(factory, "acme")) == 1
    assert folder_files(factory, "globex") == [clean] and clean.stat().st_mtime_ns == clean_mtime
    assert status(factory)["totals"]["repeated_keys"] == 0 and duplicates(factory).repeated["chunks"] == 0

    again = repair(factory)
    assert again.repeated == 0 and again.folders == 0 and not again.chunks_changed
    assert folder_files(factory, "globex") == [clean] and clean.stat().st_mtime_ns == clean_mtime


def test_a_key_in_two_date_folders_is_kept_in_the_earliest(factory: Factory) -> None:
    # The two runs stamped the same event on either side of midnight: one key, two date= folders.
    lake = factory.lake
    lake.write(CHUNKS, [chunk("acme", n) for n in range(3)])
    lake.write(CHUNKS, [chunk("acme", n, when=NEXT_DAY) for n in (1, 2, 3)])
    assert repeated_keys(lake, CHUNKS) == 2

    done = repair(factory)
    assert done.tables["chunks"].folders == ["chunks/region=eu-central/tenant=acme/date=2026-03-02",
                                             "chunks/region=eu-central/tenant=acme/date=2026-03-03"]
    assert repeated_keys(lake, CHUNKS) == 0 and row_count(lake, CHUNKS) == 4
    with lake.connect(CHUNKS) as con:
        later = con.execute("SELECT chunk_no FROM chunks WHERE event_time = ? ORDER BY 1", [NEXT_DAY]).fetchall()
    assert later == [(3,)]  # the copies of 1 and 2 stay in the earlier folder; 3 was only ever in the later one
    assert repair(factory).repeated == 0


def test_a_key_twice_in_the_only_file_of_a_folder_is_folded(factory: Factory) -> None:
    # What compaction alone cannot fold: one file, one key twice (a writer that did not skip its own copies).
    row = chunk("acme", 0)
    factory.lake.write(CHUNKS, [row, dict(row), chunk("acme", 1)])
    assert len(folder_files(factory, "acme")) == 1 and repeated_keys(factory.lake, CHUNKS) == 1

    done = repair(factory)
    assert done.tables["chunks"].rows_after == 2 and repeated_keys(factory.lake, CHUNKS) == 0
    assert len(folder_files(factory, "acme")) == 1


def test_a_home_with_no_lake_has_nothing_to_repair(factory: Factory) -> None:
    done = repair(factory)
    assert done.repeated == 0 and done.folders == 0
    assert {name: (t.rows_before, t.rows_after) for name, t in done.tables.items()} == {
        "raw": (0, 0), "chunks": (0, 0), "dead_letters": (0, 0)}
