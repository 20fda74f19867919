"""What changed in the data directory outside Dagster, reported to Dagster's catalog as
runless asset events (no run is launched): `aifactory run`, `delete`, `dlq replay`,
`replay`, `run --follow`, the API's document and delete workers, any front door that
goes through the runner.

    <home>/lineage/openlineage.jsonl  --COMPLETE of an outside run-->  AssetMaterialization
                                                                       (raw_lake, chunks_lake,
                                                                        dead_letters_lake, vector_index)
    <home>/lake/<table>/**.parquet     --files changed-------------->  AssetObservation (files, bytes)

Each run the runner completes appends an OpenLineage COMPLETE event with its run id and
counts (pipeline/runlineage.py). Per such run not yet reported, the sensor materialises
the assets the run wrote to (rows landed, points upserted or deleted), tagged
`aifactory/written_by: outside-dagster`. Runs Dagster launched are skipped: their assets
already materialised in the run (each stage a Dagster step drove names that step in its
parent facet; an older event without one carries the Dagster run id). Writes that leave no lineage event (`erase`) still
change the lake's files: a table whose files changed is observed with its files and bytes.

Cursor (JSON): `{"lineage_offset": <bytes of the lineage file read>, "lake": {<table>:
[files, bytes, newest mtime ns]}}`. The sensor reads files only: it takes no writer lock
and opens no index, so it never waits for a run nor blocks one.
"""

import json
from typing import Any

import dagster as dg

from assets.resources import FactoryResource
from assets.stages import DAGSTER_NAMESPACE, LINEAGE_JOB, chunks_lake, dead_letters_lake, raw_lake, vector_index
from ingest.tables import DEAD_LETTERS, RAW
from pipeline.runlineage import CompletedRun, completed_runs, lineage_file
from pipeline.settings import FactorySettings
from pipeline.status import table_footprint
from transforms.tables import CHUNKS

OBSERVE_INTERVAL_S = 30
RUNS_PER_TICK = 100  # a long-idle sensor catches up over several ticks
WRITTEN_BY = {"aifactory/written_by": "outside-dagster"}
# Each lake table, its asset, and the run summary's count of the rows a run landed there.
TABLES = ((RAW, raw_lake.key, "raw_landed"), (CHUNKS, chunks_lake.key, "chunks_landed"),
          (DEAD_LETTERS, dead_letters_lake.key, "dead_letters_landed"))
COMMANDS = {"aifactory.run": "aifactory run (also delete, dlq replay, the API's documents and deletes)",
            "aifactory.ingest": "aifactory ingest",
            "aifactory.replay": "aifactory replay", "aifactory.follow": "aifactory run --follow (one cycle)"}


def run_events(run: CompletedRun) -> list[dg.AssetMaterialization]:
    """A materialisation of each asset the run wrote to; none when it changed nothing."""
    s = run.summary
    common: dict[str, Any] = {"run_id": run.run_id, "job": run.job, "command": COMMANDS.get(run.job, run.job),
                              "completed_at": run.completed_at}
    tags = {**WRITTEN_BY, "aifactory/run_id": run.run_id}
    description = f"Written outside Dagster by {common['command']}, run {run.run_id}"
    events = [dg.AssetMaterialization(asset_key=key, description=description, tags=tags,
                                      metadata={**common, count: s[count], "published": s.get("published", 0)})
              for _, key, count in TABLES if s.get(count)]
    if s.get("points_upserted") or s.get("points_deleted"):
        events.append(dg.AssetMaterialization(
            asset_key=vector_index.key, description=description, tags=tags,
            metadata={**common, "points_upserted": s.get("points_upserted", 0),
                      "points_deleted": s.get("points_deleted", 0),
                      "outputs": dg.MetadataValue.json(run.rows)}))
    return events


def launched_by_dagster(context: dg.SensorEvaluationContext, run: CompletedRun) -> bool:
    return run.parent_namespace == DAGSTER_NAMESPACE or run.job in (LINEAGE_JOB, "dagster.factory") \
        or context.instance.get_run_by_id(run.run_id) is not None


def lake_events(settings: FactorySettings, seen: dict[str, list[int]],
                skip: set[dg.AssetKey]) -> tuple[list[dg.AssetObservation], dict[str, list[int]]]:
    """An observation of each lake table whose files changed since `seen` (unless its asset is
    in `skip`, materialised this tick), and what the tables look like now, for the cursor."""
    events, now = [], {}
    for spec, key, _ in TABLES:
        found = table_footprint(settings, spec)
        now[spec.name] = [found.files, found.bytes, found.modified_ns]
        if now[spec.name] != seen.get(spec.name, [0, 0, 0]) and key not in skip:
            events.append(dg.AssetObservation(
                asset_key=key, tags={"aifactory/observed": "lake-files"},
                description="The table's files changed since the sensor's last tick",
                metadata={"files": found.files, "bytes": found.bytes,
                          "path": dg.MetadataValue.path(str(settings.lake_root / spec.name))}))
    return events, now


@dg.sensor(name="outside_writes_sensor", minimum_interval_seconds=OBSERVE_INTERVAL_S,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Reports what the CLI, the API and other services wrote to the data directory, so the "
                       "catalog shows the lake and the index as they are: a materialisation of raw_lake, "
                       "chunks_lake, dead_letters_lake and vector_index per outside run (from its OpenLineage "
                       "COMPLETE event), and an observation of each lake table whose files changed. Launches "
                       "no run; reads files only (no writer lock, no index).")
def outside_writes_sensor(context: dg.SensorEvaluationContext,
                          factory: FactoryResource) -> dg.SensorResult | dg.SkipReason:
    settings = factory.settings()
    home = settings.home
    if not home.exists():
        return dg.SkipReason(f"the data directory {home} does not exist yet: nothing has run there (set "
                             "AIFACTORY_HOME if it lives elsewhere)")
    cursor = json.loads(context.cursor or "{}")
    runs, offset = completed_runs(home, offset=int(cursor.get("lineage_offset", 0)), limit=RUNS_PER_TICK)
    outside = [r for r in runs if not launched_by_dagster(context, r)]
    events: list[dg.AssetMaterialization | dg.AssetObservation] = [e for r in outside for e in run_events(r)]
    observed, lake = lake_events(settings, cursor.get("lake", {}), {e.asset_key for e in events})
    events += observed
    reason = None if events else (
        f"nothing new in {home} since the last tick ({len(runs)} completed run(s) read from "
        f"{lineage_file(home)}, {len(runs) - len(outside)} of them launched by Dagster)"
        + ("; runs report to OPENLINEAGE_URL, not to that file" if settings.openlineage_url else ""))
    return dg.SensorResult(asset_events=events, skip_reason=reason,
                           cursor=json.dumps({"lineage_offset": offset, "lake": lake}))
