"""Partitioned maintenance and reporting: lake compaction by day and region, and the
daily usage per tenant; their jobs and schedules, with the reindex schedule. Compaction
and reindex are deferrable: their schedules place each run in the hour of least carbon
intensity before its deadline (governance/carbon.py).

Partitions: `DAILY` (one per UTC day) and `REGIONS` (the regions the residency policy
allows, read from AIFACTORY_RESIDENCY_POLICY or the built-in policy), combined as
`DAY_REGION` where the lake's own partitioning (region=/tenant=/date=) fits.
Backfills select a range of days (and regions) in the UI or with
`dagster asset backfill`.
"""


import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from assets.resources import FactoryResource, home_pool
from assets.stages import chunks_lake, dead_letters_lake, raw_lake, usage_ledger, vector_index
from assets.topics import OWNER
from governance.carbon import CarbonError, CarbonProfile, load_profile
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



def carbon_profile() -> CarbonProfile:
    """AIFACTORY_CARBON_INTENSITY, read at each tick (a URL's forecast changes)."""
    return load_profile(os.environ.get("AIFACTORY_CARBON_INTENSITY", ""))


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dg.schedule(job=compaction_job, cron_schedule="0 * * * *", execution_timezone="UTC",
             description="Deferrable: compacts yesterday's lake partitions, one run per region, in the hour of "
                         "least carbon intensity for that region between 00:00 and 23:00 UTC "
                         "(AIFACTORY_CARBON_INTENSITY; with the flat default, 00:00). Ticks hourly; a missed "
                         "hour is caught up at the next tick.")
def compaction_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
    now = _hour(context.scheduled_execution_time)
    day = (now - timedelta(days=1)).date().isoformat()
    try:
        profile = carbon_profile()
    except CarbonError as exc:
        return dg.SkipReason(f"{exc}: nothing placed")
    start, deadline = now.replace(hour=0), now.replace(hour=23)
    requests, waiting = [], []
    for region in REGIONS.get_partition_keys():
        chosen = profile.cheapest_hour([region], start, deadline)
        if chosen <= now:  # its hour has come (or passed, while the daemon was down): the run key keeps it once
            requests.append(dg.RunRequest(run_key=f"compact-{day}-{region}",
                                          partition_key=dg.MultiPartitionKey({"date": day, "region": region}),
                                          tags={"aifactory/placed_at": chosen.isoformat()}))
        else:
            waiting.append(f"{region} at {chosen:%H:%M} UTC ({profile.intensity(region, chosen):g} gCO2e/kWh)")
    return requests or dg.SkipReason(f"compaction of {day} waits for the hour of least carbon intensity: "
                                     + ", ".join(waiting))


usage_schedule = dg.build_schedule_from_partitioned_job(
    usage_job, name="usage_schedule", hour_of_day=23, minute_of_hour=55,
    description="Daily at 23:55 UTC: that day's usage per tenant (late entries: re-materialise the day).")
@dg.schedule(name="reindex_schedule", job=reindex_job, cron_schedule="0 * * * *", execution_timezone="UTC",
             description="Deferrable, weekly: re-syncs the index with the lake and checks its completeness in the "
                         "hour of least carbon intensity (summed over the regions) between Saturday 00:00 and "
                         "Monday 00:00 UTC (AIFACTORY_CARBON_INTENSITY; with the flat default, Saturday 00:00).")
def reindex_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    now = _hour(context.scheduled_execution_time)
    saturday = now.replace(hour=0) - timedelta(days=(now.weekday() - 5) % 7)
    if now >= saturday + timedelta(days=2):
        return dg.SkipReason(f"the reindex window opens on Saturday {saturday + timedelta(days=7):%Y-%m-%d}")
    try:
        chosen = carbon_profile().cheapest_hour(list(REGIONS.get_partition_keys()), saturday,
                                                saturday + timedelta(days=2))
    except CarbonError as exc:
        return dg.SkipReason(f"{exc}: nothing placed")
    if chosen > now:
        return dg.SkipReason(f"the weekly reindex waits for the hour of least carbon intensity, {chosen:%a %H:%M} UTC")
    week = saturday.date().isocalendar()
    return dg.RunRequest(run_key=f"reindex-{week.year}-W{week.week:02d}",
                         tags={"aifactory/placed_at": chosen.isoformat()})
