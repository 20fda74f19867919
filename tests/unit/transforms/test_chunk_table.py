"""The chunk table's gateway answers with typed records, over real Parquet and DuckDB."""

from __future__ import annotations

from pathlib import Path

from governance.contracts import ChunkRecord, LogPosition, content_hash, utcnow
from ingest.lake import Lake
from transforms import chunk_table
from transforms.chunk_table import EventOutcome
from transforms.tables import CHUNKS, chunk_row

AT = LogPosition(epoch="e", topic="raw", partition=0, offset=0)


def chunk(tenant: str, doc: str, version: int, no: int, count: int, text: str = "", *, op: str = "upsert",
          region: str = "eu-central") -> ChunkRecord:
    event_id = f"ev-{tenant}-{doc}-{version}"
    return ChunkRecord(row_id=f"{event_id}-{no}", chunk_id=f"{tenant}:{doc}:{content_hash(text)}:{no}", op=op,
                       event_id=event_id, tenant=tenant, jurisdiction="EU" if region == "eu-central" else "US",
                       region=region, document_id=f"{tenant}:{doc}", version=version, chunk_no=no, chunk_count=count,
                       text=text, content_hash=content_hash(text), title=doc, source_uri=f"file:///src/{doc}",
                       event_time=utcnow(), raw=AT, chunker="test-1")


def land(lake: Lake, *chunks: ChunkRecord) -> list[Path]:
    return lake.write(CHUNKS, [chunk_row(c, LogPosition(epoch="e", topic="chunks", partition=0, offset=n))
                               for n, c in enumerate(chunks)])


def filled(tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "lake")
    land(lake,
         chunk("acme", "a.md", 1, 0, 2, "old zero"), chunk("acme", "a.md", 1, 1, 2, "old one"),
         chunk("acme", "a.md", 2, 0, 2, "new zero"),  # one of two chunks landed so far
         chunk("acme", "b.md", 1, 0, 1, "bee"),
         chunk("acme", "b.md", 2, 0, 1, op="delete"),  # b.md deleted: its tombstone
         chunk("globex", "c.md", 1, 0, 1, "sea", region="us-east"))
    return lake


def test_an_empty_or_missing_table_answers_empty(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "no-lake-here")
    assert chunk_table.outcomes(lake) == []
    assert chunk_table.indexed_documents(lake) == 0
    assert chunk_table.upsert_chunks(lake, "ev") == 0
    assert chunk_table.tenant_regions(lake) == []
    assert chunk_table.current_rows(lake) == [] and chunk_table.latest_versions(lake) == {}
    assert chunk_table.rows_of(lake, []) == []
    assert chunk_table.locate_chunk(lake, "row") == [] and chunk_table.document_chunks(lake, "acme:a.md") == []


def test_outcomes_say_which_events_are_done(tmp_path: Path) -> None:
    lake = filled(tmp_path)
    got = {o.event_id: o for o in chunk_table.outcomes(lake)}
    assert got["ev-acme-a.md-1"] == EventOutcome("ev-acme-a.md-1", landed=2, expected=2, tombstone=False)
    assert got["ev-acme-a.md-2"] == EventOutcome("ev-acme-a.md-2", landed=1, expected=2, tombstone=False)
    assert got["ev-acme-b.md-2"].tombstone
    assert {e for e, o in got.items() if o.done} == {"ev-acme-a.md-1", "ev-acme-b.md-1", "ev-acme-b.md-2",
                                                     "ev-globex-c.md-1"}


def test_counts_and_tenant_regions(tmp_path: Path) -> None:
    lake = filled(tmp_path)
    assert chunk_table.indexed_documents(lake) == 2  # a.md (version 2) and c.md; b.md is deleted
    assert chunk_table.upsert_chunks(lake, "ev-acme-a.md-1") == 2
    assert chunk_table.upsert_chunks(lake, "ev-acme-b.md-2") == 0  # a tombstone is no chunk
    assert chunk_table.tenant_regions(lake) == [("acme", "eu-central"), ("globex", "us-east")]


def test_current_rows_and_latest_versions_whole_lake_or_some_files(tmp_path: Path) -> None:
    lake = filled(tmp_path)
    current = chunk_table.current_rows(lake)
    assert [(r["document_id"], r["version"], r["chunk_no"]) for r in current] == [
        ("acme:a.md", 2, 0), ("globex:c.md", 1, 0)]
    assert "landed_at" not in current[0] and current[0]["raw_offset"] == 0  # where its event sat, not the chunk
    assert chunk_table.latest_versions(lake) == {"acme:a.md": 2, "acme:b.md": 2, "globex:c.md": 1}
    [new] = land(lake, chunk("acme", "a.md", 2, 1, 2, "new one"))
    assert [(r["chunk_no"], r["op"]) for r in chunk_table.rows_of(lake, [new])] == [(1, "upsert")]
    assert chunk_table.latest_versions(lake, [new]) == {"acme:a.md": 2}
    assert len(chunk_table.current_rows(lake, [new])) == 1
    assert [r["chunk_no"] for r in chunk_table.current_rows(lake) if r["document_id"] == "acme:a.md"] == [0, 1]


def test_located_chunks_name_their_file_and_row(tmp_path: Path) -> None:
    lake = filled(tmp_path)
    [found] = chunk_table.locate_chunk(lake, "ev-globex-c.md-1-0")
    assert found.lake_file.startswith("chunks/region=us-east/tenant=globex/") and found.lake_row == 0
    assert found.values["chunk_no"] == 0 and "op" not in found.values
    history = chunk_table.document_chunks(lake, "acme:b.md", "acme")
    assert sorted(r.values["op"] for r in history) == ["delete", "upsert"]
    assert chunk_table.document_chunks(lake, "acme:b.md", "globex") == []
