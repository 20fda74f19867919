"""The composition root for `dagster dev -w workspace.yaml`: merges each group's pieces.

    stream       kafka/raw_documents, kafka/chunks, kafka/dead_letters    (external topics)
    lake         raw_lake -> chunks_lake -> dead_letters_lake              (Parquet, region=/tenant=/date=)
    index        vector_index                                              (Qdrant, per region and model)
    governance   lineage_store, usage_ledger
    billing      tenant_usage_daily                                        (daily partitions)
    maintenance  compacted_lake_partition                                  (date x region partitions)

Partitioned assets have groups of their own, so no group mixes them with the pipeline: a
group's "Materialize all" then launches one run, never a backfill. `ingest_job` holds the
whole unpartitioned pipeline; its page's "Materialize all" is what the README says to press
(the Lineage view's covers every partition too).

Checks: assets/checks.py (ERROR checks block downstream assets). Sensors: one per topic on
consumer lag (assets/topics.py), and `outside_writes_sensor`, on by default, which reports
what the CLI, the API and other services wrote as runless asset events (assets/observe.py).
Schedules: compaction, usage, reindex
(assets/maintenance.py) and freshness (assets/checks.py, on by default).
"""

import os

import dagster as dg

from assets import maintenance as m
from assets.checks import CHECKS, freshness_job, freshness_schedule, residency_compliance
from assets.observe import outside_writes_sensor
from assets.resources import env_or, run_resources
from assets.stages import (
    SourcesConfig,
    chunks_lake,
    dead_letters_lake,
    lag_run_config,
    lineage_store,
    raw_lake,
    usage_ledger,
    vector_index,
)
from assets.topics import TOPICS, lag_sensor, topic_specs

raw_documents = topic_specs[0]
ASSETS: list[dg.AssetsDefinition | dg.AssetSpec] = [
    *topic_specs, raw_lake, chunks_lake, dead_letters_lake, vector_index, lineage_store, usage_ledger,
    m.compacted_lake_partition, m.tenant_usage_daily,
]
SENSOR_JOBS = {"raw-documents": m.ingest_job.name, "chunks": m.index_job.name, "dead-letters": m.dead_letters_job.name}

__all__ = ["ASSETS", "CHECKS", "SourcesConfig", "defs", "raw_documents", "residency_compliance"]


def resources() -> dict[str, dg.ConfigurableResource]:
    """From the environment, read at launch: AIFACTORY_HOME, KAFKA_BOOTSTRAP_SERVERS,
    AIFACTORY_TOPIC_PREFIX, QDRANT_URL and QDRANT_API_KEY (a secret: EnvVar only)."""
    return run_resources(home=env_or("AIFACTORY_HOME", ".aifactory"),
                         bootstrap_servers=env_or("KAFKA_BOOTSTRAP_SERVERS", ""),
                         topic_prefix=env_or("AIFACTORY_TOPIC_PREFIX", "aifactory"),
                         qdrant_url=env_or("QDRANT_URL", ""), qdrant_api_key=env_or("QDRANT_API_KEY", ""))


def executor() -> dg.ExecutorDefinition:
    """In one process while the broker or the index is embedded (it lives in the run's process
    and the index has one writer); a process per step once both are external servers
    (KAFKA_BOOTSTRAP_SERVERS and QDRANT_URL or QDRANT_REGION_URLS, read at load), the home's pool keeping its steps
    one at a time where the instance sets a limit (deploy/dagster.yaml)."""
    env = os.environ
    index_served = (env.get("QDRANT_URL", "") + env.get("QDRANT_REGION_URLS", "")).strip()
    external = bool(env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() and index_served)
    return dg.multiprocess_executor if external else dg.in_process_executor


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=[m.ingest_job, m.index_job, m.dead_letters_job, m.reindex_job, m.compaction_job, m.usage_job,
              freshness_job],
        sensors=[*(lag_sensor(t, SENSOR_JOBS[t.name], lag_run_config if t.name == "raw-documents" else None)
                   for t in TOPICS), outside_writes_sensor],
        schedules=[m.compaction_schedule, m.usage_schedule, m.reindex_schedule, freshness_schedule],
        resources=resources(),
        executor=executor(),
    )
