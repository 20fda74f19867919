"""The chunk table's gateway: every query over the chunks lake (`transforms.tables.CHUNKS`),
each parameterised, each answering with typed records.

The index sync reads whole chunk rows (`ChunkRow`, a row as the chunks table holds
it): they are the same rows the chunks lander feeds to embedding ahead, and the sync
writes its payloads from them, so they keep that one shape.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from ingest import duck
from ingest.lake import Lake
from ingest.lake_reads import LocatedRow, located_rows
from transforms.family_index import FamilyIndex
from transforms.tables import CHUNKS

ChunkRow = dict[str, Any]  # a chunks-table row, column -> value, without where it sat on the log

_OUTCOMES_SQL = """
SELECT event_id, count(*) AS landed, max(chunk_count) AS expected, bool_or(op = 'delete') AS tombstone
FROM chunks GROUP BY event_id
"""
_OUTCOMES_OF_SQL = """
SELECT event_id, count(*) AS landed, max(chunk_count) AS expected, bool_or(op = 'delete') AS tombstone
FROM chunks WHERE list_contains(?, event_id) GROUP BY event_id
"""
_INDEXED_SQL = """
SELECT count(DISTINCT document_id) FROM chunks c
WHERE op = 'upsert' AND version = (SELECT max(version) FROM chunks WHERE document_id = c.document_id)
"""
_UPSERT_CHUNKS_SQL = "SELECT count(*) FROM chunks WHERE event_id = ? AND op = 'upsert'"
_CHUNKS_OF_EVENTS_SQL = (
    "SELECT event_id, count(*) FROM chunks WHERE list_contains(?, event_id) AND op = 'upsert' GROUP BY event_id")
_TENANT_REGIONS_SQL = "SELECT DISTINCT tenant, region FROM chunks ORDER BY 1, 2"
_CURRENT_SQL = """
WITH latest AS (
    SELECT document_id, max(version) AS version FROM chunks GROUP BY document_id
)
SELECT c.* EXCLUDE (landed_at, log_epoch, log_topic, log_partition, log_offset)
FROM chunks c JOIN latest l USING (document_id, version)
WHERE c.op = 'upsert'
ORDER BY c.document_id, c.chunk_no
"""
_LATEST_VERSIONS_SQL = "SELECT document_id, max(version) FROM chunks GROUP BY document_id"
_DOCUMENTS_SQL = "SELECT DISTINCT document_id FROM chunks"
_ROWS_BY_ID_SQL = """
SELECT * EXCLUDE (landed_at, log_epoch, log_topic, log_partition, log_offset) FROM chunks
WHERE list_contains(?, row_id) ORDER BY document_id, chunk_no
"""
_ALL_ROWS_SQL = "SELECT * EXCLUDE (landed_at, log_epoch, log_topic, log_partition, log_offset) FROM chunks"
# The columns a lineage trace shows of a chunk; a document's history adds op and landed_at.
_TRACED_COLUMNS = ("row_id", "chunk_id", "event_id", "chunk_no", "chunk_count", "section", "page", "token_count",
                   "chunker", "screener", "quarantined", "log_epoch", "log_topic", "log_partition", "log_offset")
_HISTORY_COLUMNS = (*_TRACED_COLUMNS, "op", "landed_at")


@dataclass(frozen=True)
class EventOutcome:
    """The chunk rows one event has in the lake: how many landed, how many its chunker
    made, and whether it is a delete's tombstone."""

    event_id: str
    landed: int
    expected: int
    tombstone: bool

    @property
    def done(self) -> bool:
        return self.tombstone or self.landed >= self.expected


def _connect(lake: Lake, files: Collection[str] | None = None) -> duckdb.DuckDBPyConnection:
    """The chunks table as a view: the whole lake, or only `files` of it."""
    if files is None:
        return lake.connect(CHUNKS)
    con = duck.connect()
    con.register(CHUNKS.name, lake.dataset_of(files, CHUNKS.schema))
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[ChunkRow]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, values, strict=True)) for values in cur.fetchall()]


def outcomes(lake: Lake, event_ids: Collection[str] | None = None) -> list[EventOutcome]:
    """What landed of each event (of `event_ids` only, when given: none read for none)."""
    if event_ids is None:
        with _connect(lake) as con:
            return [EventOutcome(*r) for r in con.execute(_OUTCOMES_SQL).fetchall()]
    if not event_ids or not lake.files(CHUNKS):
        return []
    with _connect(lake) as con:
        return [EventOutcome(*r) for r in con.execute(_OUTCOMES_OF_SQL, [sorted(event_ids)]).fetchall()]


def indexed_documents(lake: Lake) -> int:
    """Documents whose latest version has chunks (is searchable)."""
    with _connect(lake) as con:
        row = con.execute(_INDEXED_SQL).fetchone()
    return int(row[0]) if row else 0


def upsert_chunks(lake: Lake, event_id: str) -> int:
    """How many chunks the lake holds of an upsert event."""
    with _connect(lake) as con:
        row = con.execute(_UPSERT_CHUNKS_SQL, [event_id]).fetchone()
    return int(row[0]) if row else 0


def chunks_of_events(lake: Lake, event_ids: list[str]) -> dict[str, int]:
    """Of these events, those with upsert chunks in the lake, and how many each."""
    with _connect(lake) as con:
        return {r[0]: int(r[1]) for r in con.execute(_CHUNKS_OF_EVENTS_SQL, [event_ids]).fetchall()}


def tenant_regions(lake: Lake) -> list[tuple[str, str]]:
    """The distinct (tenant, region) pairs of the chunks, sorted."""
    with _connect(lake) as con:
        return [(tenant, region) for tenant, region in con.execute(_TENANT_REGIONS_SQL).fetchall()]


def current_rows(lake: Lake, files: Collection[str] | None = None) -> list[ChunkRow]:
    """Every upsert chunk of each document's latest version (none for a document whose
    latest row is a tombstone), by document and chunk number; of `files` only, when given."""
    with _connect(lake, files) as con:
        return lake.sealer.open_rows(_rows(con, _CURRENT_SQL))


def latest_versions(lake: Lake, files: Collection[str] | None = None) -> dict[str, int]:
    """Document id -> its latest version, tombstones included; of `files` only, when given."""
    with _connect(lake, files) as con:
        return {doc: version for doc, version in con.execute(_LATEST_VERSIONS_SQL).fetchall()}


def rows_of(lake: Lake, files: Collection[str]) -> list[ChunkRow]:
    """Every row of `files`, upserts and tombstones."""
    with _connect(lake, files) as con:
        return lake.sealer.open_rows(_rows(con, _ALL_ROWS_SQL))


def locate_chunk(lake: Lake, row_id: str) -> list[LocatedRow]:
    """The chunk row (a replayed one may be stored twice), with its file and row number."""
    return _opened(lake, located_rows(lake, CHUNKS, (*_TRACED_COLUMNS, "tenant"), {"row_id": row_id}))


def document_chunks(lake: Lake, document_id: str, tenant: str | None = None) -> list[LocatedRow]:
    """Every chunk row and tombstone of every version of a document (of `tenant`, when
    given), with op and landed_at, each with its file and row number."""
    return _opened(lake, located_rows(lake, CHUNKS, (*_HISTORY_COLUMNS, "tenant"),
                                      {"document_id": document_id, **({"tenant": tenant} if tenant else {})}))


def _opened(lake: Lake, rows: list[LocatedRow]) -> list[LocatedRow]:
    """The rows with their section opened (sealed with encryption on; "" once shredded), less the
    tenant column read to open it."""
    out = []
    for r in rows:
        opened = lake.sealer.open_fields(r.values) or {**r.values, "section": ""}
        out.append(replace(r, values={k: v for k, v in opened.items() if k != "tenant"}))
    return out


def documents_of(lake: Lake, files: Collection[str]) -> set[str]:
    """The documents `files` hold rows of (new versions, tombstones)."""
    with _connect(lake, files) as con:
        return {doc for (doc,) in con.execute(_DOCUMENTS_SQL).fetchall()}


@dataclass(frozen=True)
class Families:
    """What a sync of some changed documents needs from their tenants' chunk files."""

    rows: list[ChunkRow]  # the current rows of the changed documents' duplicate families
    current: dict[str, int]  # tenant -> its current chunks in those files (for the folded count)


def family_rows(lake: Lake, tenants: Collection[str], documents: Collection[str]) -> Families | None:
    """The current rows of `documents` and every current row of `tenants` sharing a reader
    key with one of their chunks (now, or in an earlier version): whole duplicate families,
    all a sync must compare when only `documents` changed. The family index
    (family_index.py) names the rows and their files; only those files are read. None when
    some rows have no reader key (written before it was kept): the caller compares the
    tenants whole."""
    members = FamilyIndex(lake).members(tenants, documents)
    if members is None:
        return None
    holding = sorted({file for _, file in members.rows})  # only the files the members sit in
    with _connect(lake, holding) as con:
        rows = _rows(con, _ROWS_BY_ID_SQL, [sorted(r for r, _ in members.rows)]) if holding else []
        return Families(lake.sealer.open_rows(rows), members.current)
