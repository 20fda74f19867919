"""The stages as single calls, for a front door that runs them one at a time (each
Dagster asset is one of these): each runs its stage over the caller's factory and
returns what the caller reports of it. The sequencing lives here, not in the caller.

    land_raw       the raw-topic backlog, then the sources: scanned, published, landed
    chunk_pending  every raw-lake event without an outcome, chunked and landed
    dead_letters   what failed, by stage and reason
    project        the index made equal to the chunks lake
    trace_index    every point traced to a raw-lake event; a COMPLETE lineage event
    daily_usage    one day's usage per tenant, priced and written
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.openlineage import DatasetRef, LineageEmitter
from governance.pricing import load_price_book
from ingest import raw_table
from ingest.kafka import KafkaConnection
from ingest.sources import Source
from ingest.tables import DEAD_LETTERS, RAW
from pipeline import runner
from pipeline.backlog import BacklogReport, land_backlog
from pipeline.factory import Factory
from pipeline.status import TableSummary, dead_letter_reasons, lake_totals, table_summary
from pipeline.usage_report import write_daily
from transforms.tables import CHUNKS
from vectorstore.embedder import Fingerprint
from vectorstore.sync import SyncReport


def lineage_path(factory: Factory) -> Path:
    """Where the run-level OpenLineage events of the data directory go."""
    return factory.settings.home / "lineage" / "openlineage.jsonl"


@dataclass
class Landed:
    run: runner.RunReport
    totals: dict[str, int]  # the lake's, after the stage (lake_totals)
    table: TableSummary  # the table the stage landed in


@dataclass
class RawLanded(Landed):
    backlog: BacklogReport


def land_raw(factory: Factory, sources: list[Source], *, conn: KafkaConnection, run_id: str) -> RawLanded:
    """Land the backlog other producers left on the raw topic, then scan, publish and
    land the sources (chunking comes next)."""
    # An embedded broker starts fresh for the run: only a cluster can hold another producer's backlog.
    backlog = BacklogReport(topic=conn.settings.raw_topic) if conn.settings.embedded \
        else land_backlog(factory, conn, run_id=run_id)
    report = runner.ingest_only(factory, sources, conn=conn)
    return RawLanded(report, lake_totals(factory), table_summary(factory, RAW), backlog)


def chunk_pending(factory: Factory, *, conn: KafkaConnection) -> Landed:
    """Chunk every raw-lake event whose outcome has not landed yet (replaying events of
    an earlier log epoch from the raw lake), and land the chunks."""
    report = runner.transform_pending(factory, conn=conn)
    return Landed(report, lake_totals(factory), table_summary(factory, CHUNKS))


@dataclass
class DeadLetters:
    table: TableSummary
    reasons: dict[str, int]  # `stage: error class` -> dead letters, most first


def dead_letters(factory: Factory) -> DeadLetters:
    return DeadLetters(table_summary(factory, DEAD_LETTERS), dead_letter_reasons(factory))


@dataclass
class Projected:
    sync: SyncReport
    points: int  # in the index after the sync, every region
    tokens: int  # embedded by this run
    fingerprint: Fingerprint


def project(factory: Factory, *, run_id: str) -> Projected:
    report = factory.sync_index(run_id=run_id)
    index = factory.index
    tokens = sum(e.tokens for e in factory.ledger.entries() if e.run_id == run_id and e.event == "embedding")
    return Projected(report, sum(index.count(r) for r in index.regions()), tokens, factory.embedder.fingerprint)


@dataclass
class Traced:
    points: int
    untraceable: list[str]  # ids of points whose event or log position is not in the raw lake
    path: Path  # the OpenLineage file the COMPLETE event went to


def trace_index(factory: Factory, *, job: str, run_id: str, topics: Sequence[str]) -> Traced:
    """Check that every indexed point traces back to a raw-lake event and its log
    position, and append a COMPLETE event for `job` with the lake tables and index
    collections (rows, residency) as outputs and `topics` as inputs."""
    events = raw_table.event_ids(factory.lake)
    traced = Traced(points=0, untraceable=[], path=lineage_path(factory))
    outputs = [DatasetRef(namespace="aifactory-lake", name=spec.name, rows=table_summary(factory, spec).rows,
                          fields=[(x.name, str(x.type)) for x in spec.schema]) for spec in (RAW, CHUNKS, DEAD_LETTERS)]
    index = factory.index_without_model()
    if index is not None:
        for region in index.regions():
            for hit in index.points(region):
                traced.points += 1
                if hit.payload.get("event_id") not in events or hit.payload.get("offset") is None:
                    traced.untraceable.append(hit.id)
        outputs += [DatasetRef(namespace="aifactory-index", name=f"{r}/{index.model_id}", rows=index.count(r),
                               region=r) for r in index.regions()]
    LineageEmitter(traced.path).complete(job, run_id, inputs=[DatasetRef(namespace="kafka", name=t) for t in topics],
                                         outputs=outputs,
                                         summary={"points": traced.points, "untraceable": len(traced.untraceable)})
    return traced


def daily_usage(factory: Factory, day: str) -> tuple[dict[str, Any], Path]:
    """One day's usage per tenant and region, priced by the price book, written to
    `<home>/reports/usage/daily/<day>.json`: the report and its path."""
    return write_daily(factory.ledger, load_price_book(factory.settings.price_book), day,
                       factory.settings.home / "reports" / "usage" / "daily")
