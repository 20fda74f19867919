"""The factory's asset graph, built lazily for `dagster dev -w workspace.yaml`.

    kafka/raw_documents (external topic) -> raw_lake -> chunks_lake -> vector_index
"""

from pathlib import Path

import dagster as dg

from aifactory import pipeline
from aifactory.residency_report import report as residency_report
from aifactory.settings import SAMPLE_SOURCES, load_sources
from aifactory.status import status
from assets.resources import EmbedderResource, KafkaResource, LakeResource, factory

OWNER = "team:data-platform"

raw_documents = dg.AssetSpec(
    key=["kafka", "raw_documents"],
    description="Kafka topic of document events (upserts and deletes), keyed by document id. "
                "Published by sources; the raw lake is its durable copy.",
    group_name="ingest", kinds={"kafka"}, owners=[OWNER],
    metadata={"topic": "<prefix>.raw-documents", "residency": "events carry jurisdiction and region"},
)


class SourcesConfig(dg.Config):
    sources_file: str = str(SAMPLE_SOURCES)


@dg.asset(deps=[raw_documents], group_name="ingest", kinds={"parquet", "duckdb"}, owners=[OWNER],
          description="Raw document events landed in Parquet, hive-partitioned region=/tenant=/date=. "
                      "Offsets are committed only after a file is durable.")
def raw_lake(context: dg.AssetExecutionContext, config: SourcesConfig, lake: LakeResource,
             kafka: KafkaResource) -> dg.MaterializeResult:
    f = factory(lake, kafka)
    report = pipeline.ingest_only(f, load_sources(Path(config.sources_file)), conn=kafka.connection)
    counts = status(f)["totals"]
    return dg.MaterializeResult(metadata={
        "published": report.published, "raw_landed": report.raw_landed,
        "dead_letters_landed": report.dead_letters_landed, "events_total": counts["events"],
        "documents": counts["documents"], "path": dg.MetadataValue.path(str(f.settings.lake_root / "raw")),
        "log_epoch": kafka.connection.epoch,
    })


@dg.asset(deps=[raw_lake], group_name="transform", kinds={"faust", "parquet"}, owners=[OWNER],
          description="Chunks of every document version (and tombstones of deletes), made by the faust "
                      "chunker from the raw topic; events from an earlier log epoch are replayed from the raw lake.")
def chunks_lake(context: dg.AssetExecutionContext, lake: LakeResource, kafka: KafkaResource) -> dg.MaterializeResult:
    f = factory(lake, kafka)
    report = pipeline.transform_pending(f, conn=kafka.connection)
    counts = status(f)["totals"]
    return dg.MaterializeResult(metadata={
        "chunks_landed": report.chunks_landed, "dead_letters_landed": report.dead_letters_landed,
        "replayed_from_raw_lake": report.recovered, "current_chunks": counts["current_chunks"],
        "path": dg.MetadataValue.path(str(f.settings.lake_root / "chunks")),
    })


@dg.asset(deps=[chunks_lake], group_name="index", kinds={"qdrant"}, owners=[OWNER],
          description="Qdrant Edge collections, one per region and model, holding exactly the chunks of each "
                      "document's latest version.")
def vector_index(context: dg.AssetExecutionContext, lake: LakeResource, kafka: KafkaResource,
                 embedder: EmbedderResource) -> dg.MaterializeResult:
    f = factory(lake, kafka, embedder)
    report = f.sync_index(run_id=context.run.run_id)
    counts = status(f)["totals"]
    return dg.MaterializeResult(metadata={
        "points_upserted": report.upserted, "points_deleted": report.deleted,
        "points_unchanged": report.unchanged, "points_total": counts["points"],
        "points_repointed": report.repointed, "duplicates_folded": report.duplicates,
        "embed_seconds": round(report.embed_seconds, 2), "model": f.embedder.fingerprint.id,
        "regions": ", ".join(sorted(report.by_region)),
    })


@dg.asset_check(asset=vector_index, blocking=False,
                description="Every record in the raw and chunk lake, the dead letters and the index sits in a region "
                            "its jurisdiction may be stored in (the residency policy). A failure lists where; move "
                            "or erase those records, then fix the producer that wrote them.")
def residency_compliance(lake: LakeResource) -> dg.AssetCheckResult:
    # No broker needed: the check reads the lake and the index only.
    data = residency_report(factory(lake, KafkaResource()))
    found = data["violations_found"]
    return dg.AssetCheckResult(
        passed=not found, severity=dg.AssetCheckSeverity.ERROR,
        description=None if not found else "; ".join(
            f"{v['count']} {v['jurisdiction']} record(s) of {v['tenant']} in {v['sink']} at {v['region']}"
            for v in found),
        metadata={"violations": len(found), "refused_at_write": len(data["violations_refused"]),
                  "placements": dg.MetadataValue.json([r for rows in data["tenants"].values() for r in rows])})


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[raw_documents, raw_lake, chunks_lake, vector_index],
        asset_checks=[residency_compliance],
        resources={
            "lake": LakeResource(home=dg.EnvVar("AIFACTORY_HOME").get_value(".aifactory") or ".aifactory"),
            "kafka": KafkaResource(bootstrap_servers=dg.EnvVar("KAFKA_BOOTSTRAP_SERVERS").get_value("") or ""),
            "embedder": EmbedderResource(),
        },
        # The embedded broker lives in the run's process: every step must run there.
        executor=dg.in_process_executor,
    )
