"""The factory's stages as assets, in the order data flows:

    kafka/raw_documents -> raw_lake -> chunks_lake -> vector_index -> lineage_store
    kafka/chunks ----------------------^    |
    kafka/dead_letters -> dead_letters_lake <-+         usage_ledger -> tenant_usage_daily

Every materialisation reports what an engineer needs to judge it (rows, bytes,
paths, offsets consumed, points written, tokens embedded, the model fingerprint)
and where to trace a record (`lineage`).
"""


import json
import os
import uuid
from pathlib import Path
from typing import Any

import dagster as dg

from assets.resources import FactoryResource, home_pool
from assets.topics import OWNER, TOPICS
from governance.openlineage import ParentRef
from pipeline import steps
from pipeline.factory import Factory
from pipeline.settings import SAMPLE_SOURCES, load_sources
from pipeline.status import TableSummary
from pipeline.usage_report import ledger_summary

RAW_TOPIC, CHUNKS_TOPIC, DEAD_LETTER_TOPIC = (t.key for t in TOPICS)
HOME_POOL = home_pool()  # one step at a time per data directory: deploy/dagster.yaml
TRACE_HINT = "aifactory lineage trace <document or point id> [--format html]"
LINEAGE_JOB = "aifactory.trace"
DAGSTER_NAMESPACE = "dagster"  # the job namespace of Dagster's runs and steps, in parent facets


def parent(context: dg.AssetExecutionContext) -> ParentRef:
    """The Dagster step that drives a stage, under its run: the stage's lineage events
    carry it as their parent facet (step run ids are derived from the run's)."""
    run = context.run
    step = str(context.op_execution_context.op_handle)  # the step key of an unpartitioned asset op
    return ParentRef(namespace=DAGSTER_NAMESPACE, job=f"{run.job_name}.{step}",
                     run_id=str(uuid.uuid5(uuid.UUID(run.run_id), step)), root_job=run.job_name, root_run_id=run.run_id)


def table_metadata(f: Factory, table: TableSummary) -> dict[str, Any]:
    """Rows, files, bytes and path of a lake table, and the log offsets it holds per
    partition for the current log epoch (what its landing group has consumed)."""
    meta: dict[str, Any] = {
        "files": table.files, "bytes": table.bytes, "path": dg.MetadataValue.path(str(table.path)),
        "lineage": dg.MetadataValue.md(f"Trace a record: `{TRACE_HINT}`; run-level events: "
                                       f"`{steps.lineage_path(f)}`"),
        "rows": table.rows,
    }
    if table.files:
        meta["offsets_consumed"] = dg.MetadataValue.json(
            {k: {"first": o.first, "last": o.last, "rows": o.rows} for k, o in table.offsets.items()})
    return meta


class SourcesConfig(dg.Config):
    """The sources file a run scans: AIFACTORY_SOURCES_FILE where the deployment sets one,
    else the bundled demo; empty scans nothing (the run lands the topic's backlog only)."""

    sources_file: str = os.environ.get("AIFACTORY_SOURCES_FILE", str(SAMPLE_SOURCES))


def lag_run_config() -> dict[str, Any]:
    """What a raw-topic lag run scans: the deployment's sources, never the bundled demo
    (the lag is other producers' events; a production run must not publish the demo)."""
    sources = os.environ.get("AIFACTORY_SOURCES_FILE", "")
    return {"ops": {"raw_lake": {"config": {"sources_file": sources}}}}


@dg.asset(deps=[RAW_TOPIC], group_name="lake", kinds={"parquet", "duckdb"}, owners=[OWNER],
          pool=HOME_POOL,
          description="Raw document events landed from kafka/raw_documents into Parquet, hive-partitioned "
                      "region=/tenant=/date=: the durable copy of the log. Materialising scans the sources file "
                      "(config `sources_file`), publishes new or changed documents and lands them; it first lands "
                      "the backlog other producers left on the topic (what the raw-topic lag sensor saw). Offsets "
                      "are committed only after a file is durable. If rows are missing, check the dead letters.")
def raw_lake(context: dg.AssetExecutionContext, config: SourcesConfig,
             factory: FactoryResource) -> dg.MaterializeResult:
    conn = factory.connection
    with factory.step() as f:
        sources = load_sources(Path(config.sources_file)) if config.sources_file else []
        landed = steps.land_raw(f, sources, conn=conn, run_id=context.run.run_id, parent=parent(context))
        table = table_metadata(f, landed.table)
    backlog, report = landed.backlog, landed.run
    return dg.MaterializeResult(metadata={
        "published": report.published, "raw_landed": report.raw_landed,
        "backlog_rows_landed": backlog.landed, "backlog_dead_lettered": backlog.dead_lettered,
        "backlog_offsets_consumed": dg.MetadataValue.json(backlog.metadata()),
        "dead_letters_landed": report.dead_letters_landed + backlog.dead_letters_landed,
        "events_total": landed.totals["events"],
        "documents": landed.totals["documents"], "log_epoch": conn.epoch, **table,
    })


@dg.asset(deps=[raw_lake, CHUNKS_TOPIC], group_name="lake", kinds={"faust", "parquet"}, owners=[OWNER],
          pool=HOME_POOL,
          description="Chunks of every document version (and tombstones of deletes), made by the faust agents "
                      "from the raw topic and landed from kafka/chunks. Events from an earlier log epoch are "
                      "replayed from the raw lake. Quarantined chunks (prompt injection) stay here but are "
                      "hidden from search.")
def chunks_lake(context: dg.AssetExecutionContext, factory: FactoryResource) -> dg.MaterializeResult:
    with factory.step() as f:
        landed = steps.chunk_pending(f, conn=factory.connection, parent=parent(context))
        table = table_metadata(f, landed.table)
    report = landed.run
    return dg.MaterializeResult(metadata={
        "chunks_landed": report.chunks_landed, "dead_letters_landed": report.dead_letters_landed,
        "replayed_from_raw_lake": report.recovered, "current_chunks": landed.totals["current_chunks"],
        "quarantined": landed.totals["quarantined"], **table,
    })


@dg.asset(deps=[DEAD_LETTER_TOPIC, raw_lake, chunks_lake], group_name="lake", kinds={"parquet"}, owners=[OWNER],
          pool=HOME_POOL,
          description="Input that failed a stage (parse, limits, privacy drop, landing, transform), landed from "
                      "kafka/dead_letters with its reason, in the region of its jurisdiction. Materialising "
                      "summarises it by stage and reason: `aifactory dlq list` names each; fix it, then "
                      "`aifactory dlq replay`.")
def dead_letters_lake(context: dg.AssetExecutionContext, factory: FactoryResource) -> dg.MaterializeResult:
    with factory.step() as f:
        letters = steps.dead_letters(f)
        table = table_metadata(f, letters.table)
    return dg.MaterializeResult(metadata={**table, "by_stage_and_error": dg.MetadataValue.json(letters.reasons)})


@dg.asset(deps=[chunks_lake], group_name="index", kinds={"qdrant"}, owners=[OWNER],
          pool=HOME_POOL,
          description="Vector collections, one per region and model, holding exactly the chunks of each "
                      "document's latest version (near duplicates folded into one point). Only new or changed "
                      "chunks are embedded. Check index_completeness after a failed run.")
def vector_index(context: dg.AssetExecutionContext, factory: FactoryResource) -> dg.MaterializeResult:
    with factory.step() as f:
        done = steps.project(f, run_id=context.run.run_id, parent=parent(context))
    report, fp = done.sync, done.fingerprint
    return dg.MaterializeResult(metadata={
        "points_upserted": report.upserted, "points_deleted": report.deleted,
        "points_unchanged": report.unchanged, "points_total": done.points,
        "points_repointed": report.repointed, "duplicates_folded": report.duplicates,
        "tokens_embedded": done.tokens, "embed_seconds": round(report.embed_seconds, 2),
        "model": fp.id, "model_fingerprint": dg.MetadataValue.json(
            {"name": fp.name, "weights_sha256": fp.weights_sha256, "dimension": fp.dimension,
             "normalized": fp.normalized}),
        "points_by_region": dg.MetadataValue.json(report.by_region),
        "lineage": dg.MetadataValue.md(f"Every point's payload names its event and log position: `{TRACE_HINT}`"),
    })


@dg.asset(deps=[raw_lake, chunks_lake, vector_index], group_name="governance", kinds={"openlineage"},
          owners=[OWNER],
          pool=HOME_POOL,
          description="Record-level lineage (point -> chunk -> document version -> event -> source) and "
                      "run-level OpenLineage events. Materialising checks that every indexed point traces back "
                      "to a raw-lake event and emits an OpenLineage event listing each collection's points by "
                      "raw-topic log position. Untraceable points mean a projection was written past the log: "
                      "replay it.")
def lineage_store(context: dg.AssetExecutionContext, factory: FactoryResource) -> dg.MaterializeResult:
    with factory.step() as f:
        traced = steps.trace_index(f, job=LINEAGE_JOB, run_id=context.run.run_id, parent=parent(context))
    return dg.MaterializeResult(metadata={
        "points_traced": traced.points, "untraceable_points": len(traced.untraceable),
        "untraceable_sample": dg.MetadataValue.json(traced.untraceable[:20]),
        "path": dg.MetadataValue.path(str(traced.path)), "trace": dg.MetadataValue.md(f"`{TRACE_HINT}`"),
    })


@dg.asset(deps=[raw_lake, chunks_lake, vector_index], group_name="governance", kinds={"jsonl"}, owners=[OWNER],
          pool=HOME_POOL,
          description="The append-only usage ledger (governance/usage.jsonl): per tenant, documents and bytes "
                      "ingested, chunks, tokens and compute seconds embedded, vectors stored, queries. Every entry "
                      "carries its run id. Feeds tenant_usage_daily and `aifactory usage report`.")
def usage_ledger(context: dg.AssetExecutionContext, factory: FactoryResource) -> dg.MaterializeResult:
    with factory.step() as f:
        ledger = ledger_summary(f.ledger)
    return dg.MaterializeResult(metadata={
        "entries": ledger.entries, "by_event": dg.MetadataValue.json(ledger.by_event),
        "tenants": ledger.tenants, "last_entry_at": ledger.last_entry_at.isoformat() if ledger.last_entry_at else "",
        "bytes": ledger.bytes, "path": dg.MetadataValue.path(str(ledger.path)),
        "totals": dg.MetadataValue.json(json.loads(json.dumps(ledger.totals))),
    })
