"""The family index answers what a read of every chunk file answers, through new versions,
tombstones, shared chunks, compaction and erasure, reading only the files added since."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from governance.contracts import ChunkRecord, LogPosition
from ingest.lake import Lake
from tests.unit.transforms import test_chunk_table
from transforms import chunk_table
from transforms.dedup import reader_key
from transforms.family_index import FamilyIndex
from transforms.tables import CHUNKS, chunk_row

FOOTER = "confidential: internal to the company"


def chunk(*args: object, **kwargs: object) -> ChunkRecord:
    """A chunk as the chunker makes it: with its reader key, unless a tombstone."""
    c = test_chunk_table.chunk(*args, **kwargs)  # type: ignore[arg-type]
    return c.model_copy(update={"reader_key": reader_key(c.text) if c.op == "upsert" else ""})


def land(lake: Lake, *chunks: ChunkRecord) -> None:
    test_chunk_table.land(lake, *chunks)


def expected(lake: Lake, tenants: set[str], documents: set[str]) -> tuple[list[str], dict[str, int]]:
    """What a read of every chunk file says: the families' current row ids, and each tenant's current chunks."""
    rows = [r for r in chunk_table.rows_of(lake, lake.files(CHUNKS)) if r["tenant"] in tenants]
    latest: dict[str, int] = defaultdict(int)
    for r in rows:
        latest[r["document_id"]] = max(latest[r["document_id"]], r["version"])
    current = [r for r in rows if r["op"] == "upsert" and r["version"] == latest[r["document_id"]]]
    keys = {r["reader_key"] for r in rows if r["op"] == "upsert" and r["document_id"] in documents}
    members = sorted(r["row_id"] for r in current if r["document_id"] in documents or r["reader_key"] in keys)
    per_tenant: dict[str, int] = defaultdict(int)
    for r in current:
        per_tenant[r["tenant"]] += 1
    return members, dict(per_tenant)


def found(lake: Lake, tenants: set[str], documents: set[str]) -> tuple[list[str], dict[str, int]]:
    families = chunk_table.family_rows(lake, tenants, documents)
    assert families is not None
    return sorted(r["row_id"] for r in families.rows), families.current


def test_families_match_a_full_read_through_every_kind_of_change(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    land(lake, chunk("acme", "a.md", 1, 0, 2, "forklifts need helmets"), chunk("acme", "a.md", 1, 1, 2, FOOTER),
         chunk("acme", "b.md", 1, 0, 2, "belts are checked mondays"), chunk("acme", "b.md", 1, 1, 2, FOOTER),
         chunk("globex", "c.md", 1, 0, 2, "lunch at noon", region="us-east"),
         chunk("globex", "c.md", 1, 1, 2, FOOTER, region="us-east"))
    index = FamilyIndex(lake)
    # a.md shares its footer with b.md, not with the other tenant's c.md.
    assert found(lake, {"acme"}, {"acme:a.md"}) == expected(lake, {"acme"}, {"acme:a.md"})
    assert len(found(lake, {"acme"}, {"acme:a.md"})[0]) == 3  # its two chunks and b.md's footer
    assert found(lake, {"acme"}, {"acme:a.md"})[1] == {"acme": 4}

    # A new version drops the footer: the family still takes b.md's footer (a.md had it before).
    land(lake, chunk("acme", "a.md", 2, 0, 1, "forklifts need helmets and vests"))
    assert found(lake, {"acme"}, {"acme:a.md"}) == expected(lake, {"acme"}, {"acme:a.md"})
    # The family read took the new file in: a refresh after it reads nothing.
    index.refresh()
    assert index.files_read == 0
    # b.md deleted: its tombstone leaves no current row.
    land(lake, chunk("acme", "b.md", 2, 0, 1, op="delete"))
    assert found(lake, {"acme"}, {"acme:b.md"}) == expected(lake, {"acme"}, {"acme:b.md"})
    assert found(lake, {"acme"}, {"acme:b.md"})[1] == {"acme": 1}

    # Compaction: acme's files merged into one, the old ones removed.
    files = lake.files(CHUNKS, "chunks/region=eu-central/tenant=acme")
    rows = chunk_table.rows_of(lake, files)
    lake.write(CHUNKS, [{**r, "landed_at": r["event_time"], "log_epoch": "e", "log_topic": "chunks",
                         "log_partition": 0, "log_offset": n} for n, r in enumerate(rows)])
    for key in files:
        lake.remove(key)
    assert len(lake.files(CHUNKS)) == 2
    for docs in ({"acme:a.md"}, {"acme:b.md"}, {"acme:a.md", "acme:b.md"}):
        assert found(lake, {"acme"}, docs) == expected(lake, {"acme"}, docs)
    assert found(lake, {"globex"}, {"globex:c.md"}) == expected(lake, {"globex"}, {"globex:c.md"})


def test_an_erased_document_leaves_no_id_in_the_index(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    land(lake, chunk("acme", "ada-lindqvist.md", 1, 0, 1, "onboarding notes"),
         chunk("acme", "fleet.md", 1, 0, 1, "trucks are serviced"))
    assert found(lake, {"acme"}, {"acme:fleet.md"}) == expected(lake, {"acme"}, {"acme:fleet.md"})
    index = FamilyIndex(lake)
    held = b"".join(p.read_bytes() for p in index.path.parent.glob(index.path.name + "*"))
    assert b"ada-lindqvist" in held  # the search can fail

    lake.remove_rows(CHUNKS, "document_id", {"acme:ada-lindqvist.md"})
    index.refresh()
    leftovers = b"".join(p.read_bytes() for p in index.path.parent.glob(index.path.name + "*"))
    assert b"ada-lindqvist" not in leftovers
    assert found(lake, {"acme"}, {"acme:fleet.md"}) == expected(lake, {"acme"}, {"acme:fleet.md"})


def test_a_rewritten_file_is_read_again_and_a_deleted_index_rebuilt(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    land(lake, chunk("acme", "a.md", 1, 0, 1, FOOTER), chunk("acme", "b.md", 1, 0, 1, "other"))
    assert found(lake, {"acme"}, {"acme:a.md"}) == expected(lake, {"acme"}, {"acme:a.md"})
    # The same file name written again with b.md's chunk now sharing a.md's text (a rewrite in place).
    (key,) = lake.files(CHUNKS)
    rows = chunk_table.rows_of(lake, [key])
    same = [{**r, "reader_key": rows[0]["reader_key"], "landed_at": r["event_time"], "log_epoch": "e",
             "log_topic": "chunks", "log_partition": 0, "log_offset": 0} for r in rows]
    path = lake.root / key
    before = path.stat().st_mtime_ns
    lake.store.put(key, lambda out: pq.write_table(pa.Table.from_pylist(same, schema=CHUNKS.schema), out))
    assert path.stat().st_mtime_ns != before
    assert found(lake, {"acme"}, {"acme:a.md"}) == expected(lake, {"acme"}, {"acme:a.md"})
    assert len(found(lake, {"acme"}, {"acme:a.md"})[0]) == 2

    FamilyIndex(lake).path.unlink()
    assert found(lake, {"acme"}, {"acme:b.md"}) == expected(lake, {"acme"}, {"acme:b.md"})


def test_rows_without_a_reader_key_send_the_caller_to_a_whole_comparison(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    at = LogPosition(epoch="e", topic="chunks", partition=0, offset=0)
    row = chunk_row(test_chunk_table.chunk("acme", "a.md", 1, 0, 1, "old"), at)
    lake.write(CHUNKS, [row])  # written before reader keys were kept
    assert chunk_table.family_rows(lake, {"acme"}, {"acme:a.md"}) is None
    land(lake, chunk("globex", "c.md", 1, 0, 1, "sea", region="us-east"))
    assert chunk_table.family_rows(lake, {"globex"}, {"globex:c.md"}) is not None
