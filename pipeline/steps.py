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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.openlineage import LineageEmitter, ParentRef, TraceDatasetFacet
from governance.pricing import load_price_book
from ingest import raw_table
from ingest.kafka import KafkaConnection
from ingest.sources import Source
from ingest.tables import DEAD_LETTERS, RAW
from pipeline import runlineage, runner
from pipeline.backlog import BacklogReport, land_backlog
from pipeline.factory import Factory
from pipeline.runlineage import job_run
from pipeline.status import TableSummary, dead_letter_reasons, lake_totals, table_summary
from pipeline.usage_report import write_daily
from transforms.tables import CHUNKS
from vectorstore.embedder import Fingerprint
from vectorstore.sync import SyncReport

TRACE_LIMIT = 10_000  # log positions per collection in one trace facet; the CLI answers for the rest


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


def land_raw(factory: Factory, sources: list[Source], *, conn: KafkaConnection, run_id: str,
             parent: ParentRef | None = None) -> RawLanded:
    """Land the backlog other producers left on the raw topic, then scan, publish and
    land the sources (chunking comes next)."""
    # An embedded broker starts fresh for the run: only a cluster can hold another producer's backlog.
    backlog = BacklogReport(topic=conn.settings.raw_topic) if conn.settings.embedded \
        else land_backlog(factory, conn, run_id=run_id)
    report = runner.ingest_only(factory, sources, conn=conn, parent=parent)
    return RawLanded(report, lake_totals(factory), table_summary(factory, RAW), backlog)


def chunk_pending(factory: Factory, *, conn: KafkaConnection, parent: ParentRef | None = None) -> Landed:
    """Chunk every raw-lake event whose outcome has not landed yet (replaying events of
    an earlier log epoch from the raw lake), and land the chunks."""
    report = runner.transform_pending(factory, conn=conn, parent=parent)
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


def project(factory: Factory, *, run_id: str, parent: ParentRef | None = None) -> Projected:
    """Make the index equal to the chunks lake, as job `aifactory.project` (metered under `run_id`)."""
    run = runner.RunReport(run_id=run_id)
    with job_run(factory, "aifactory.project", run, parent=parent):
        run.index = report = factory.sync_index(run_id=run_id)
    index = factory.index
    tokens = sum(e.tokens for e in factory.ledger.entries() if e.run_id == run_id and e.event == "embedding")
    return Projected(report, sum(index.count(r) for r in index.regions()), tokens, factory.embedder.fingerprint)


@dataclass
class Traced:
    points: int
    untraceable: list[str]  # ids of points whose event or log position is not in the raw lake
    path: Path  # the OpenLineage file the COMPLETE event went to


def trace_index(factory: Factory, *, job: str, run_id: str, parent: ParentRef | None = None,
                trace_limit: int = TRACE_LIMIT) -> Traced:
    """Check that every indexed point traces back to a raw-lake event and its log
    position, and emit START and COMPLETE for `job`: the raw lake and each collection
    as inputs, each collection with a trace facet naming the points of each raw-topic
    log position (at most `trace_limit` positions per collection)."""
    out = LineageEmitter(lineage_path(factory), url=factory.settings.openlineage_url)
    out.start(job, run_id, parent=parent)
    events = raw_table.event_ids(factory.lake)
    traced = Traced(points=0, untraceable=[], path=lineage_path(factory))
    inputs = [runlineage.table(factory, RAW, rows=table_summary(factory, RAW).rows)]
    index = factory.index_without_model()
    if index is not None:
        for region in index.regions():
            positions: dict[tuple[str, int, int, str], list[str]] = {}
            count = 0
            for hit in index.points(region):
                count += 1
                p = hit.payload
                if p.get("event_id") not in events or p.get("offset") is None:
                    traced.untraceable.append(hit.id)
                    continue
                key = (str(p.get("topic")), int(p.get("partition") or 0), int(p["offset"]), str(p.get("log_epoch")))
                if key in positions or len(positions) < trace_limit:
                    positions.setdefault(key, []).append(str(hit.id))
            traced.points += count
            trace = TraceDatasetFacet(points=count, truncated=len(positions) >= trace_limit, positions=[
                {"topic": t, "partition": part, "offset": off, "epoch": epoch, "point_ids": ids}
                for (t, part, off, epoch), ids in sorted(positions.items())])
            inputs.append(runlineage.collection(factory, region, index.model_id, rows=count, trace=trace))
    out.complete(job, run_id, inputs=inputs, outputs=[], parent=parent,
                 summary={"points": traced.points, "untraceable": len(traced.untraceable)})
    return traced


def daily_usage(factory: Factory, day: str) -> tuple[dict[str, Any], Path]:
    """One day's usage per tenant and region, priced by the price book, written to
    `<home>/reports/usage/daily/<day>.json`: the report and its path."""
    return write_daily(factory.ledger, load_price_book(factory.settings.price_book), day,
                       factory.settings.home / "reports" / "usage" / "daily")
