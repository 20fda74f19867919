"""Partitioned maintenance and reporting: lake compaction by day and region, and the
daily usage per tenant; their jobs and schedules, with the reindex schedule.

Partitions: `DAILY` (one per UTC day) and `REGIONS` (the regions the residency policy
allows, read from AIFACTORY_RESIDENCY_POLICY or the built-in policy), combined as
`DAY_REGION` where the lake's own partitioning (region=/tenant=/date=) fits.
Backfills select a range of days (and regions) in the UI or with
`dagster asset backfill`.
"""


import os
from datetime import timedelta
from pathlib import Path

import dagster as dg

from assets.resources import FactoryResource, home_pool
from assets.stages import chunks_lake, dead_letters_lake, raw_lake, usage_ledger, vector_index
from assets.topics import OWNER
from governance.residency import load_policy
from pipeline.compaction import compact_partition
from pipeline.steps import daily_usage

START = "2026-01-01"
HOME_POOL = home_pool()  # one step at a time per data directory: deploy/dagster.yaml
DAILY = dg.DailyPartitionsDefinition(start_date=START, end_offset=1)  # today's partition too (usage so far)
_policy = os.environ.get("AIFACTORY_RESIDENCY_POLICY")
REGIONS = dg.StaticPartitionsDefinition(load_policy(Path(_policy) if _policy else None).regions)
DAY_REGION = dg.MultiPartitionsDefinition({"date": DAILY, "region": REGIONS})


@dg.asset(partitions_def=DAY_REGION, deps=[raw_lake, chunks_lake, dead_letters_lake], group_name="maintenance",
          kinds={"parquet"}, owners=[OWNER],
          pool=HOME_POOL,
          description="Small Parquet files of one day and region (every tenant, every lake table) merged into one "
                      "file per tenant, rows unique by key; readers see the same rows, faster. Runs nightly for "
                      "yesterday; backfill a range of days after a bulk load.")
def compacted_lake_partition(context: dg.AssetExecutionContext, factory: FactoryResource) -> dg.MaterializeResult:
    keys = context.partition_key.keys_by_dimension
    day, region = keys["date"], keys["region"]
    with factory.step() as f:
        done = compact_partition(f, day=day, region=region)
    return dg.MaterializeResult(metadata={**done.totals, "date": day, "region": region,
                                          "left_for_residency_review": dg.MetadataValue.json(done.refused)})


# A group of its own ("billing", not "governance"): a group mixing partitioned and unpartitioned
# assets turns that group's "Materialize all" into a backfill of every day.
@dg.asset(partitions_def=DAILY, deps=[usage_ledger], group_name="billing", kinds={"json"}, owners=[OWNER],
          pool=HOME_POOL,
          description="Per tenant and region, what was used on one day (documents, tokens embedded, CPU/GPU "
                      "seconds, vectors stored, queries, RAG context tokens) and what it costs under the price "
                      "book (AIFACTORY_PRICE_BOOK). Written to `reports/usage/daily/<day>.json`; backfill a month "
                      "to bill it, or use `aifactory usage report --period YYYY-MM`.")
def tenant_usage_daily(context: dg.AssetExecutionContext, factory: FactoryResource) -> dg.MaterializeResult:
    day = context.partition_key
    with factory.step() as f:
        report, path = daily_usage(f, day)
    table = "\n".join(["| tenant | region | tokens | cpu s | gpu s | vectors | queries | cost |",
                       "|---|---|---|---|---|---|---|---|",
                       *(f"| {r['tenant']} | {r['region'] or '-'} | {r['tokens_embedded']} | {r['cpu_seconds']:.1f} "
                         f"| {r['gpu_seconds']:.1f} | {r['vectors_stored']} | {r['queries']} | {r['total']:.4f} |"
                         for r in report["lines"])])
    return dg.MaterializeResult(metadata={
        "day": day, "tenants": len({r["tenant"] for r in report["lines"]}), "lines": len(report["lines"]),
        "tokens_embedded": sum(r["tokens_embedded"] for r in report["lines"]),
        "queries": sum(r["queries"] for r in report["lines"]),
        "total_cost": dg.MetadataValue.float(float(report["total"])), "currency": report["currency"],
        "usage": dg.MetadataValue.md(table), "path": dg.MetadataValue.path(str(path)),
    })


STREAM = [raw_lake, chunks_lake, dead_letters_lake, vector_index]
PARTITIONED = [compacted_lake_partition, tenant_usage_daily]
# The unpartitioned pipeline and its checks: what "Materialize all" on this job's page runs
# as one run (the Lineage view's "Materialize all" would open a backfill of every partition).
ingest_job = dg.define_asset_job(
    "ingest_job", selection=dg.AssetSelection.assets(*STREAM).downstream() - dg.AssetSelection.assets(*PARTITIONED),
    description="The whole pipeline in one run: scan the sources and drive every stage (raw lake, chunks, dead "
                "letters, index, lineage, ledger) with their checks. Press Materialize all here, not in Lineage.")
index_job = dg.define_asset_job("index_job", selection=dg.AssetSelection.assets(chunks_lake, vector_index),
                                description="Land pending chunks and bring the index up to date.")
dead_letters_job = dg.define_asset_job("dead_letters_job", selection=dg.AssetSelection.assets(dead_letters_lake),
                                       description="Summarise the dead letters by stage and reason.")
reindex_job = dg.define_asset_job(
    "reindex_job", selection=dg.AssetSelection.assets(vector_index),
    description="Re-sync the index with the chunks lake (repairs missing or extra points) and run its checks. "
                "To change the model, use `aifactory reindex --model M` (builds beside, then swaps).")
compaction_job = dg.define_asset_job("compaction_job", selection=dg.AssetSelection.assets(compacted_lake_partition))
usage_job = dg.define_asset_job("usage_job", selection=dg.AssetSelection.assets(tenant_usage_daily))



@dg.schedule(job=compaction_job, cron_schedule="0 2 * * *", execution_timezone="UTC",
             description="Nightly at 02:00 UTC: compact yesterday's lake partitions, one run per region.")
def compaction_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return [dg.RunRequest(run_key=f"compact-{day}-{region}",
                          partition_key=dg.MultiPartitionKey({"date": day, "region": region}))
            for region in REGIONS.get_partition_keys()]


usage_schedule = dg.build_schedule_from_partitioned_job(
    usage_job, name="usage_schedule", hour_of_day=23, minute_of_hour=55,
    description="Daily at 23:55 UTC: that day's usage per tenant (late entries: re-materialise the day).")
reindex_schedule = dg.ScheduleDefinition(
    name="reindex_schedule", job=reindex_job, cron_schedule="0 3 * * 0", execution_timezone="UTC",
    description="Weekly (Sunday 03:00 UTC): re-sync the index with the lake and check its completeness.")
