"""Counts per stage and tenant, read from the lake and the index; and each lake
table as a materialisation reports it (files, bytes, rows, offsets landed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.lake import TableSpec
from ingest.tables import DEAD_LETTERS, RAW
from pipeline.factory import Factory
from transforms.tables import CHUNKS
from vectorstore.sync import plan

COUNTS_SQL = """
WITH tenants AS (
    SELECT tenant FROM raw UNION SELECT tenant FROM chunks UNION SELECT tenant FROM dead_letters
),
latest AS (
    SELECT tenant, op FROM raw
    QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY version DESC) = 1
),
current_chunks AS (
    SELECT c.tenant, c.quarantined FROM chunks c
    JOIN (SELECT document_id, max(version) AS version FROM chunks GROUP BY document_id) l
      USING (document_id, version)
    WHERE c.op = 'upsert'
)
SELECT t.tenant,
       (SELECT count(*) FROM raw r WHERE r.tenant = t.tenant) AS events,
       (SELECT count(*) FROM latest l WHERE l.tenant = t.tenant AND l.op = 'upsert') AS documents,
       (SELECT count(*) FROM chunks c WHERE c.tenant = t.tenant AND c.op = 'upsert') AS chunk_rows,
       (SELECT count(*) FROM current_chunks c WHERE c.tenant = t.tenant) AS current_chunks,
       (SELECT count(*) FROM current_chunks c WHERE c.tenant = t.tenant AND c.quarantined) AS quarantined,
       (SELECT count(*) FROM dead_letters d WHERE d.tenant = t.tenant) AS dead_letters
FROM tenants t ORDER BY t.tenant
"""
LAKE_COUNTS = ("events", "documents", "chunk_rows", "current_chunks", "quarantined", "dead_letters")

# Table names below are TableSpec constants, never input.
ROWS_SQL = "SELECT count(*) FROM {table}"
OFFSETS_SQL = """
SELECT log_topic, log_partition, min(log_offset), max(log_offset), count(*) FROM {table}
WHERE log_epoch = (SELECT max_by(log_epoch, landed_at) FROM {table})
GROUP BY ALL ORDER BY 1, 2
"""
REASONS_SQL = "SELECT stage, error_class, count(*) FROM dead_letters GROUP BY ALL ORDER BY 3 DESC"


def tenant_counts(factory: Factory) -> dict[str, dict[str, int]]:
    """Per tenant, what the lake holds (`LAKE_COUNTS`); reads no index."""
    con = factory.lake.connect(RAW, CHUNKS, DEAD_LETTERS)
    try:
        cur = con.execute(COUNTS_SQL)
        cols = [d[0] for d in cur.description]
        return {r[0]: dict(zip(cols[1:], r[1:], strict=True)) for r in cur.fetchall()}
    finally:
        con.close()


def lake_totals(factory: Factory) -> dict[str, int]:
    tenants = tenant_counts(factory)
    return {k: sum(c[k] for c in tenants.values()) for k in LAKE_COUNTS}


def status(factory: Factory) -> dict[str, Any]:
    tenants: dict[str, dict[str, Any]] = dict(tenant_counts(factory))
    index = factory.index_without_model()
    regions = index.regions() if index else []
    duplicates = plan(factory.lake, index.model_id).duplicates if index else 0
    for tenant, counts in tenants.items():
        counts["points"] = sum(index.count(r, tenant=tenant) for r in regions) if index else 0
    totals = {k: sum(c[k] for c in tenants.values()) for k in (*LAKE_COUNTS, "points")}
    totals["duplicates_folded"] = duplicates
    return {
        "home": str(factory.settings.home.resolve()),
        "model": index.model_id if index else None,
        "regions": regions,
        "tenants": tenants,
        "totals": totals,
    }


@dataclass(frozen=True)
class Offsets:
    first: int
    last: int
    rows: int


@dataclass(frozen=True)
class TableSummary:
    """A lake table: its files, and the log offsets it holds per `topic[partition]` for
    the current log epoch (what its landing group has consumed)."""

    name: str
    path: Path
    files: int
    bytes: int
    rows: int
    offsets: dict[str, Offsets]


def table_summary(factory: Factory, spec: TableSpec) -> TableSummary:
    files = factory.lake.files(spec)
    summary = TableSummary(name=spec.name, path=factory.lake.path(spec), files=len(files),
                           bytes=sum(p.stat().st_size for p in files), rows=0, offsets={})
    if not files:
        return summary
    con = factory.lake.connect(spec)
    try:
        row = con.execute(ROWS_SQL.format(table=spec.name)).fetchone()
        offsets = con.execute(OFFSETS_SQL.format(table=spec.name)).fetchall()
    finally:
        con.close()
    return TableSummary(name=summary.name, path=summary.path, files=summary.files, bytes=summary.bytes,
                        rows=int(row[0]) if row else 0,
                        offsets={f"{t}[{p}]": Offsets(lo, hi, n) for t, p, lo, hi, n in offsets})


def dead_letter_reasons(factory: Factory) -> dict[str, int]:
    """Dead letters per `stage: error class`, most frequent first."""
    if not factory.lake.files(DEAD_LETTERS):
        return {}
    con = factory.lake.connect(DEAD_LETTERS)
    try:
        return {f"{stage}: {error}": n for stage, error, n in con.execute(REASONS_SQL).fetchall()}
    finally:
        con.close()


def tenants(factory: Factory) -> list[str]:
    """Every tenant the raw lake holds documents of."""
    with factory.lake.connect(RAW) as con:
        return sorted(r[0] for r in con.execute("SELECT DISTINCT tenant FROM raw").fetchall())


def tenant_regions(factory: Factory, tenant: str) -> list[str]:
    """The regions a tenant's documents live in."""
    with factory.lake.connect(RAW) as con:
        return sorted(r[0] for r in con.execute("SELECT DISTINCT region FROM raw WHERE tenant = ?",
                                                [tenant]).fetchall())


INDEXED_SQL = """
SELECT count(DISTINCT document_id) FROM chunks c
WHERE op = 'upsert' AND version = (SELECT max(version) FROM chunks WHERE document_id = c.document_id)
"""


def indexed_documents(factory: Factory) -> int:
    """Documents whose latest version has chunks (is searchable)."""
    with factory.lake.connect(CHUNKS) as con:
        row = con.execute(INDEXED_SQL).fetchone()
        return int(row[0]) if row else 0
