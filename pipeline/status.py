"""Counts per stage and tenant, read from the lake and the index, with the row keys
each lake table holds more than once (`aifactory repair` folds them); and each lake
table as a materialisation reports it (files, bytes, rows, offsets landed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ingest import dead_letter_table, raw_table
from ingest.lake import TableSpec
from ingest.lake_reads import Offsets, landed_offsets, row_count
from pipeline import lake_views
from pipeline.factory import Factory
from pipeline.presence import running
from pipeline.repair import repeated_rows
from pipeline.settings import FactorySettings
from pipeline.sync_checkpoint import SyncCheckpoint
from pipeline.writer import holder
from transforms import chunk_table
from vectorstore.index import VectorIndex
from vectorstore.owner import HomeIndex
from vectorstore.sealed import bare
from vectorstore.sync import plan

LAKE_COUNTS = ("events", "documents", "chunk_rows", "current_chunks", "quarantined", "dead_letters")


def tenant_counts(factory: Factory) -> dict[str, dict[str, int]]:
    """Per tenant, what the lake holds (`LAKE_COUNTS`); reads no index."""
    return {c.tenant: {k: getattr(c, k) for k in LAKE_COUNTS} for c in lake_views.tenant_counts(factory.lake)}


def lake_totals(factory: Factory) -> dict[str, int]:
    tenants = tenant_counts(factory)
    return {k: sum(c[k] for c in tenants.values()) for k in LAKE_COUNTS}


def status(factory: Factory) -> dict[str, Any]:
    tenants: dict[str, dict[str, Any]] = dict(tenant_counts(factory))
    index = factory.index_without_model()
    regions = index.regions() if index else []
    # As the last finished sync planned it (kept with its checkpoint), not planned again here.
    duplicates = 0 if index is None else SyncCheckpoint(factory.settings.home, index.model_id).duplicates()
    if duplicates is None and index is not None:  # a home synced before the checkpoint kept it
        duplicates = plan(factory.lake, index.model_id).duplicates
    for tenant, counts in tenants.items():
        counts["points"] = sum(index.count(r, tenant=tenant) for r in regions) if index else 0
    totals = {k: sum(c[k] for c in tenants.values()) for k in (*LAKE_COUNTS, "points")}
    totals["duplicates_folded"] = duplicates
    repeated = repeated_rows(factory.lake)
    totals["repeated_keys"] = sum(repeated.values())
    return {
        "home": str(factory.settings.home.resolve()),
        "model": index.model_id if index else None,
        "regions": regions,
        "tenants": tenants,
        "totals": totals,
        # where the lake is; per table: rows whose key is stored again (`aifactory repair`)
        "lake": {"location": factory.lake.location, "repeated_keys": repeated},
        "in_use": in_use(factory, index),
        # encryption at rest: where the tenants' master keys are (README "Encryption at rest")
        "encryption": {"on": factory.sealer.on, "keys": str(factory.kms_dir) if factory.sealer.on else None,
                       "sealed_data": any(factory.data_keys_dir.glob("*.json"))},
    }


def in_use(factory: Factory, index: VectorIndex | None) -> dict[str, Any]:
    """Who else uses the data directory now: the process serving the embedded index to
    the others (owner.py), the one writing (writer.py), None where nobody is; and the
    services running on it."""
    card = bare(index).holder if isinstance(bare(index), HomeIndex) else None
    writer = holder(factory.settings.home)
    return {"index": {"pid": card.pid, "command": card.command, "since": card.since} if card else None,
            "writer": asdict(writer) if writer else None,
            # `aifactory up` and each service it (or a person) started: presence.py
            "services": [asdict(p) for p in running(factory.settings.home)]}


@dataclass(frozen=True)
class TableSummary:
    """A lake table: its files, and the log offsets it holds per `topic[partition]` for
    the current log epoch (what its landing group has consumed)."""

    name: str
    path: str  # where the table's files are: file:///... or s3://bucket/prefix/...
    files: int
    bytes: int
    rows: int
    offsets: dict[str, Offsets]


def table_summary(factory: Factory, spec: TableSpec) -> TableSummary:
    files = factory.lake.stored(spec)
    summary = TableSummary(name=spec.name, path=factory.lake.uri(spec.name), files=len(files),
                           bytes=sum(f.size for f in files), rows=0, offsets={})
    if not files:
        return summary
    return TableSummary(name=summary.name, path=summary.path, files=summary.files, bytes=summary.bytes,
                        rows=row_count(factory.lake, spec), offsets=landed_offsets(factory.lake, spec))


def dead_letter_reasons(factory: Factory) -> dict[str, int]:
    """Dead letters per `stage: error class`, most frequent first."""
    return {f"{r.stage}: {r.error_class}": r.count for r in dead_letter_table.reasons(factory.lake)}


def tenants(factory: Factory) -> list[str]:
    """Every tenant the raw lake holds documents of."""
    return raw_table.tenants(factory.lake)


def tenant_regions(factory: Factory, tenant: str) -> list[str]:
    """The regions a tenant's documents live in."""
    return raw_table.tenant_regions(factory.lake, tenant)


def indexed_documents(factory: Factory) -> int:
    """Documents whose latest version has chunks (is searchable)."""
    return chunk_table.indexed_documents(factory.lake)


@dataclass(frozen=True)
class Footprint:
    """A lake table's Parquet files as a directory listing shows them."""

    files: int
    bytes: int
    modified_ns: int  # the newest file's modification time


def table_footprint(settings: FactorySettings, spec: TableSpec) -> Footprint:
    """From a directory listing only, for watchers: it opens no file, moves no unreadable
    file aside (as `Lake.files` does) and takes no lock. In-flight temp files (`.tmp`)
    are not counted. No table yet: all zero."""
    found = settings.lake_store().listing(spec.name, ".parquet")
    return Footprint(len(found), sum(f.size for f in found), max((f.mtime_ns for f in found), default=0))
