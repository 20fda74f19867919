"""The factory's stages as assets, in the order data flows:

    kafka/raw_documents -> raw_lake -> chunks_lake -> vector_index -> lineage_store
    kafka/chunks ----------------------^    |
    kafka/dead_letters -> dead_letters_lake <-+         usage_ledger -> tenant_usage_daily

Every materialisation reports what an engineer needs to judge it (rows, bytes,
paths, offsets consumed, points written, tokens embedded, the model fingerprint)
and where to trace a record (`lineage`).
"""


import json
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from assets.resources import EmbedderResource, IndexResource, KafkaResource, LakeResource, factory
from assets.topics import OWNER, TOPICS
from governance.openlineage import DatasetRef, LineageEmitter
from ingest.lake import TableSpec
from ingest.tables import DEAD_LETTERS, RAW
from pipeline import runner
from pipeline.backlog import BacklogReport, land_backlog
from pipeline.factory import Factory
from pipeline.settings import SAMPLE_SOURCES, load_sources
from pipeline.status import status
from transforms.tables import CHUNKS

RAW_TOPIC, CHUNKS_TOPIC, DEAD_LETTER_TOPIC = (t.key for t in TOPICS)
TRACE_HINT = "aifactory lineage trace <document or point id> [--format html]"


def lineage_path(f: Factory) -> Path:
    return f.settings.home / "lineage" / "openlineage.jsonl"


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The one value a query returns (table names here are constants, never input)."""
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def table_metadata(f: Factory, spec: TableSpec) -> dict[str, Any]:
    """Rows, files, bytes and path of a lake table, and the log offsets it holds per
    partition for the current log epoch (what its landing group has consumed)."""
    files = f.lake.files(spec)
    meta: dict[str, Any] = {
        "files": len(files), "bytes": sum(p.stat().st_size for p in files),
        "path": dg.MetadataValue.path(str(f.lake.path(spec))),
        "lineage": dg.MetadataValue.md(f"Trace a record: `{TRACE_HINT}`; run-level events: "
                                       f"`{lineage_path(f)}`"),
    }
    if not files:
        return {**meta, "rows": 0}
    con = f.lake.connect(spec)
    meta["rows"] = scalar(con, f"SELECT count(*) FROM {spec.name}")
    offsets = con.execute(
        f"SELECT log_topic, log_partition, min(log_offset), max(log_offset), count(*) FROM {spec.name} "
        f"WHERE log_epoch = (SELECT max_by(log_epoch, landed_at) FROM {spec.name}) "
        "GROUP BY ALL ORDER BY 1, 2").fetchall()
    con.close()
    meta["offsets_consumed"] = dg.MetadataValue.json(
        {f"{t}[{p}]": {"first": lo, "last": hi, "rows": n} for t, p, lo, hi, n in offsets})
    return meta


class SourcesConfig(dg.Config):
    sources_file: str = str(SAMPLE_SOURCES)


@dg.asset(deps=[RAW_TOPIC], group_name="lake", kinds={"parquet", "duckdb"}, owners=[OWNER],
          description="Raw document events landed from kafka/raw_documents into Parquet, hive-partitioned "
                      "region=/tenant=/date=: the durable copy of the log. Materialising scans the sources file "
                      "(config `sources_file`), publishes new or changed documents and lands them; it first lands "
                      "the backlog other producers left on the topic (what the raw-topic lag sensor saw). Offsets "
                      "are committed only after a file is durable. If rows are missing, check the dead letters.")
def raw_lake(context: dg.AssetExecutionContext, config: SourcesConfig, lake: LakeResource,
             kafka: KafkaResource) -> dg.MaterializeResult:
    f = factory(lake, kafka)
    settings = kafka.settings()
    # An embedded broker starts fresh for the run: only a cluster can hold another producer's backlog.
    backlog = (BacklogReport(topic=settings.raw_topic) if settings.embedded
               else land_backlog(f, kafka.connection, run_id=context.run.run_id))
    report = runner.ingest_only(f, load_sources(Path(config.sources_file)), conn=kafka.connection)
    counts = status(f)["totals"]
    return dg.MaterializeResult(metadata={
        "published": report.published, "raw_landed": report.raw_landed,
        "backlog_rows_landed": backlog.landed, "backlog_dead_lettered": backlog.dead_lettered,
        "backlog_offsets_consumed": dg.MetadataValue.json(backlog.metadata()),
        "dead_letters_landed": report.dead_letters_landed + backlog.dead_letters_landed,
        "events_total": counts["events"],
        "documents": counts["documents"], "log_epoch": kafka.connection.epoch, **table_metadata(f, RAW),
    })


@dg.asset(deps=[raw_lake, CHUNKS_TOPIC], group_name="lake", kinds={"faust", "parquet"}, owners=[OWNER],
          description="Chunks of every document version (and tombstones of deletes), made by the faust agents "
                      "from the raw topic and landed from kafka/chunks. Events from an earlier log epoch are "
                      "replayed from the raw lake. Quarantined chunks (prompt injection) stay here but are "
                      "hidden from search.")
def chunks_lake(context: dg.AssetExecutionContext, lake: LakeResource, kafka: KafkaResource) -> dg.MaterializeResult:
    f = factory(lake, kafka)
    report = runner.transform_pending(f, conn=kafka.connection)
    counts = status(f)["totals"]
    return dg.MaterializeResult(metadata={
        "chunks_landed": report.chunks_landed, "dead_letters_landed": report.dead_letters_landed,
        "replayed_from_raw_lake": report.recovered, "current_chunks": counts["current_chunks"],
        "quarantined": counts["quarantined"], **table_metadata(f, CHUNKS),
    })


@dg.asset(deps=[DEAD_LETTER_TOPIC, raw_lake, chunks_lake], group_name="lake", kinds={"parquet"}, owners=[OWNER],
          description="Input that failed a stage (parse, limits, privacy drop, landing, transform), landed from "
                      "kafka/dead_letters with its reason, in the region of its jurisdiction. Materialising "
                      "summarises it by stage and reason: `aifactory dlq list` names each; fix it, then "
                      "`aifactory dlq replay`.")
def dead_letters_lake(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    f = factory(lake)
    meta = table_metadata(f, DEAD_LETTERS)
    reasons: Counter[str] = Counter()
    if meta["rows"]:
        con = f.lake.connect(DEAD_LETTERS)
        for stage, error, n in con.execute("SELECT stage, error_class, count(*) FROM dead_letters "
                                           "GROUP BY ALL ORDER BY 3 DESC").fetchall():
            reasons[f"{stage}: {error}"] = n
        con.close()
    return dg.MaterializeResult(metadata={**meta, "by_stage_and_error": dg.MetadataValue.json(dict(reasons))})


@dg.asset(deps=[chunks_lake], group_name="index", kinds={"qdrant"}, owners=[OWNER],
          description="Vector collections, one per region and model, holding exactly the chunks of each "
                      "document's latest version (near duplicates folded into one point). Only new or changed "
                      "chunks are embedded. Check index_completeness after a failed run.")
def vector_index(context: dg.AssetExecutionContext, lake: LakeResource, embedder: EmbedderResource,
                 index: IndexResource) -> dg.MaterializeResult:
    f = factory(lake, embedder=embedder, index=index)
    run_id = context.run.run_id
    report = f.sync_index(run_id=run_id)
    counts = status(f)["totals"]
    tokens = sum(e.tokens for e in f.ledger.entries() if e.run_id == run_id and e.event == "embedding")
    fp = f.embedder.fingerprint
    f.close()
    return dg.MaterializeResult(metadata={
        "points_upserted": report.upserted, "points_deleted": report.deleted,
        "points_unchanged": report.unchanged, "points_total": counts["points"],
        "points_repointed": report.repointed, "duplicates_folded": report.duplicates,
        "tokens_embedded": tokens, "embed_seconds": round(report.embed_seconds, 2),
        "model": fp.id, "model_fingerprint": dg.MetadataValue.json(
            {"name": fp.name, "weights_sha256": fp.weights_sha256, "dimension": fp.dimension,
             "normalized": fp.normalized}),
        "points_by_region": dg.MetadataValue.json(report.by_region),
        "lineage": dg.MetadataValue.md(f"Every point's payload names its event and log position: `{TRACE_HINT}`"),
    })


@dg.asset(deps=[raw_lake, chunks_lake, vector_index], group_name="governance", kinds={"openlineage"},
          owners=[OWNER],
          description="Record-level lineage (point -> chunk -> document version -> event -> source) and "
                      "run-level OpenLineage events. Materialising checks that every indexed point traces back "
                      "to a raw-lake event and appends a COMPLETE event with the datasets, row counts and "
                      "residency. Untraceable points mean a projection was written past the log: replay it.")
def lineage_store(context: dg.AssetExecutionContext, lake: LakeResource, index: IndexResource) -> dg.MaterializeResult:
    f = factory(lake, index=index)
    con = f.lake.connect(RAW, CHUNKS)
    events = {r[0] for r in con.execute("SELECT event_id FROM raw").fetchall()} if f.lake.files(RAW) else set()
    con.close()
    idx = f.index_without_model()
    points, untraceable = 0, []
    for region in idx.regions() if idx else []:
        for hit in idx.points(region) if idx else []:
            points += 1
            if hit.payload.get("event_id") not in events or hit.payload.get("offset") is None:
                untraceable.append(hit.id)
    path = lineage_path(f)
    outputs = [DatasetRef(namespace="aifactory-lake", name=spec.name, rows=_rows(f, spec),
                          fields=[(x.name, str(x.type)) for x in spec.schema]) for spec in (RAW, CHUNKS, DEAD_LETTERS)]
    if idx is not None:
        outputs += [DatasetRef(namespace="aifactory-index", name=f"{r}/{idx.model_id}", rows=idx.count(r), region=r)
                    for r in idx.regions()]
    emitter = LineageEmitter(path)
    emitter.complete("dagster.factory", context.run.run_id,
                     inputs=[DatasetRef(namespace="kafka", name=t.name) for t in TOPICS], outputs=outputs,
                     summary={"points": points, "untraceable": len(untraceable)})
    f.close()
    return dg.MaterializeResult(metadata={
        "points_traced": points, "untraceable_points": len(untraceable),
        "untraceable_sample": dg.MetadataValue.json(untraceable[:20]),
        "path": dg.MetadataValue.path(str(path)), "trace": dg.MetadataValue.md(f"`{TRACE_HINT}`"),
    })


def _rows(f: Factory, spec: TableSpec) -> int:
    if not f.lake.files(spec):
        return 0
    con = f.lake.connect(spec)
    n = int(scalar(con, f"SELECT count(*) FROM {spec.name}"))
    con.close()
    return n


@dg.asset(deps=[raw_lake, chunks_lake, vector_index], group_name="governance", kinds={"jsonl"}, owners=[OWNER],
          description="The append-only usage ledger (governance/usage.jsonl): per tenant, documents and bytes "
                      "ingested, chunks, tokens and compute seconds embedded, vectors stored, queries. Every entry "
                      "carries its run id. Feeds tenant_usage_daily and `aifactory usage report`.")
def usage_ledger(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    f = factory(lake)
    by_event: Counter[str] = Counter()
    tenants: set[str] = set()
    last = None
    for e in f.ledger.entries():
        by_event[e.event] += 1
        tenants.add(e.tenant)
        last = e.at
    path = f.ledger.path
    return dg.MaterializeResult(metadata={
        "entries": sum(by_event.values()), "by_event": dg.MetadataValue.json(dict(by_event)),
        "tenants": len(tenants), "last_entry_at": last.isoformat() if last else "",
        "bytes": path.stat().st_size if path.exists() else 0, "path": dg.MetadataValue.path(str(path)),
        "totals": dg.MetadataValue.json(json.loads(json.dumps(f.ledger.totals()))),
    })
