"""Each lake table is typed once, by its data contract: a record goes into the lake
and comes back out the same, and files written before keep reading."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel

from governance.audit import AuditLog
from governance.contracts import ChunkRecord, DeadLetter, DocumentEvent, LogPosition, utcnow
from ingest.lake import TS, Lake, contract_schema
from ingest.tables import DEAD_LETTERS, RAW, dead_letter_row, event_from_row, raw_row
from transforms.tables import CHUNKS, chunk_row

AT = LogPosition(epoch="e1", topic="aifactory.raw-documents", partition=2, offset=41)


def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake", audit=AuditLog(tmp_path / "audit.jsonl"))


def rows(lake: Lake, table: str) -> list[dict[str, object]]:
    spec = {"raw": RAW, "chunks": CHUNKS, "dead_letters": DEAD_LETTERS}[table]
    with lake.connect(spec) as con:
        rel = con.table(table)
        return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def test_a_document_event_comes_back_out_of_the_raw_lake_as_it_went_in(tmp_path: Path) -> None:
    event = DocumentEvent.new(op="upsert", tenant="t1", document_id="t1:a.md", version=3, text="Hello",
                              jurisdiction="EU", region="eu-central", source_uri="file:///a.md",
                              source_root="file:///", title="A", format="md", metadata={"owner": "hr"},
                              pii={"email": 2}, subjects=["s1", "s2"], requested="req-1", parser="p1",
                              privacy="x1", run_id="run-1", origin=AT)
    store = lake(tmp_path)
    store.write(RAW, [raw_row(event, LogPosition(epoch="e2", topic="t", partition=0, offset=0))])
    [row] = rows(store, "raw")
    assert event_from_row(row) == event  # the first log position travels as the origin


def test_a_chunk_and_a_dead_letter_keep_every_contract_field(tmp_path: Path) -> None:
    chunk = ChunkRecord(row_id="r1", chunk_id="c1", op="upsert", event_id="e1", tenant="t1", jurisdiction="EU",
                        region="eu-central", document_id="t1:a.md", version=1, chunk_no=0, chunk_count=1,
                        text="Hello", content_hash="h", title="A", source_uri="file:///a.md", page=4,
                        token_count=7, pii={"ip": 1}, quarantined=True, screening_score=0.5,
                        screening_reasons=["override"], event_time=utcnow(), raw=AT, chunker="c/1")
    letter = DeadLetter.new(stage="ingest", error=ValueError("bad"), source_uri="file:///b.bin", key="k",
                            tenant="t1", jurisdiction="EU", region="eu-central", raw=AT)
    store = lake(tmp_path)
    store.write(CHUNKS, [chunk_row(chunk, AT)])
    store.write(DEAD_LETTERS, [dead_letter_row(letter, AT)])
    [c] = rows(store, "chunks")
    assert {k: c[k] for k in ("chunk_no", "page", "token_count", "quarantined", "screening_reasons", "raw_offset")} \
        == {"chunk_no": 0, "page": 4, "token_count": 7, "quarantined": True, "screening_reasons": '["override"]',
            "raw_offset": 41}
    assert c["screening_score"] == pytest.approx(0.5)
    [d] = rows(store, "dead_letters")
    assert {k: d[k] for k in ("dead_letter_id", "reason", "raw_partition", "schema_version")} \
        == {"dead_letter_id": letter.dead_letter_id, "reason": "bad", "raw_partition": 2, "schema_version": 1}


def test_a_file_written_in_the_old_column_order_still_reads(tmp_path: Path) -> None:
    """Before the schema was derived, raw files put schema_version near the end."""
    event = DocumentEvent.new(op="upsert", tenant="t1", document_id="t1:old.md", version=1, text="old",
                              jurisdiction="EU", region="eu-central", source_uri="", source_root="")
    store = lake(tmp_path)
    [path] = [store.root / k for k in store.write(RAW, [raw_row(event, AT)])]
    table = pq.read_table(path)
    names = [n for n in table.column_names if n != "schema_version"] + ["schema_version"]
    pq.write_table(table.select(names), path)
    [row] = rows(store, "raw")
    assert event_from_row(row) == event.model_copy(update={"origin": AT})


def test_a_new_contract_field_gets_a_column_and_an_unmapped_type_is_named() -> None:
    class Record(BaseModel):
        count: int
        tags: list[str]
        extra: dict[str, str]
        at: LogPosition | None = None

    schema = contract_schema(Record, extra=[pa.field("landed_at", TS)])
    assert schema.names == ["count", "tags", "extra", "at_epoch", "at_topic", "at_partition", "at_offset",
                            "landed_at"]
    assert schema.field("tags").type == pa.list_(pa.string()) and schema.field("extra").type == pa.string()

    class Odd(BaseModel):
        blob: bytes

    with pytest.raises(TypeError, match="blob"):
        contract_schema(Odd)
