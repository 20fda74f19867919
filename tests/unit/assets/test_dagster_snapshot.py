"""The Dagster graph as engineers see it (asset keys, dependencies, groups, partitions,
check names and which of them block, jobs, sensors, schedules) matches the checked-in
snapshot, so a rename, or a check that stops gating downstream assets, is deliberate.
After an intended change, regenerate it:

    python -m tests.unit.assets.test_dagster_snapshot
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from assets.definitions import defs

SNAPSHOT = Path(__file__).resolve().parents[2] / "data" / "dagster_snapshot.json"


def snapshot() -> dict[str, Any]:
    d = defs()
    graph = d.resolve_asset_graph()
    repo = d.get_repository_def()
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "group": node.group_name, "kinds": sorted(node.kinds),
            "partitions": type(node.partitions_def).__name__ if node.partitions_def else None,
            "checks": sorted(c.name for c in node.check_keys),
            "blocking_checks": sorted(c.name for c in node.check_keys if graph.get_check_spec(c).blocking),
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in d.resolve_all_job_defs() if not j.name.startswith("__")),
        # A sensor that only reports asset events (outside_writes_sensor) targets no job: null.
        "sensors": {s.name: s.job_name if s.targets else None for s in repo.sensor_defs},
        "schedules": {s.name: [s.job_name, s.cron_schedule] for s in repo.schedule_defs},
    }


def test_definitions_match_the_snapshot() -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    actual = snapshot()
    assert actual == expected, (
        f"the Dagster definitions drifted from {SNAPSHOT.name}; "
        "if the change is intended (renaming an asset breaks its history in the UI), regenerate it with "
        "`python -m tests.unit.assets.test_dagster_snapshot` and commit the file")


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(snapshot(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {SNAPSHOT}\n")
