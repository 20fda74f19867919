"""Reads any lake table answers the same way: rows, landed offsets, repeated keys,
placements and located rows, over real Parquet and DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.contracts import DocumentEvent, LogPosition
from ingest.lake import Lake
from ingest.lake_reads import Offsets, Placement, landed_offsets, located_rows, placements, repeated_keys, row_count
from ingest.tables import RAW, raw_row


def rows(tenant: str, region: str, offsets: range, epoch: str = "e1") -> list[dict[str, object]]:
    return [raw_row(DocumentEvent.new(op="upsert", tenant=tenant, document_id=f"{tenant}:d{n}", version=1,
                                      text=f"text {n}", jurisdiction="EU", region=region, source_uri="",
                                      source_root=""),
                    LogPosition(epoch=epoch, topic="raw", partition=n % 2, offset=n)) for n in offsets]


def test_a_missing_table_reads_as_empty(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "no-lake-here")
    assert row_count(lake, RAW) == 0 and landed_offsets(lake, RAW) == {} and repeated_keys(lake, RAW) == 0
    assert placements(lake, RAW) == [] and located_rows(lake, RAW, ("event_id",), {"tenant": "acme"}) == []


def test_counts_offsets_repeats_and_placements(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write(RAW, rows("acme", "eu-central", range(4)))
    lake.write(RAW, rows("globex", "eu-west", range(4, 5)))
    assert row_count(lake, RAW) == 5
    assert landed_offsets(lake, RAW) == {"raw[0]": Offsets(0, 4, 3), "raw[1]": Offsets(1, 3, 2)}
    assert repeated_keys(lake, RAW) == 0
    assert sorted(placements(lake, RAW), key=lambda p: str(p.tenant)) == [
        Placement("acme", "EU", "eu-central", 4), Placement("globex", "EU", "eu-west", 1)]
    # The same rows landed again under another file name: exactly-once broken, and counted.
    [again] = rows("acme", "eu-central", range(1))
    lake.write(RAW, [again, *rows("acme", "eu-central", range(9, 10))])
    assert repeated_keys(lake, RAW) == 1


def test_located_rows_check_their_columns(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write(RAW, rows("acme", "eu-central", range(2)))
    found = located_rows(lake, RAW, ("document_id", "log_offset"), {"tenant": "acme", "document_id": "acme:d1"})
    assert [(r.values, r.lake_row) for r in found] == [({"document_id": "acme:d1", "log_offset": 1}, 1)]
    assert found[0].lake_file.startswith("raw/region=eu-central/tenant=acme/")
    with pytest.raises(ValueError, match="no column"):
        located_rows(lake, RAW, ("event_id; DROP",), {"tenant": "acme"})
