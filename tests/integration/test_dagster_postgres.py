"""Dagster in production: the shipped instance config (deploy/dagster.yaml) against a real
PostgreSQL started here (Debian's): a pipeline run, its materialisations and the data
directory's concurrency pool are kept in Postgres, and the daemon runs against it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml

from assets.definitions import ASSETS, CHECKS
from assets.maintenance import compacted_lake_partition, tenant_usage_daily
from assets.resources import run_resources
from assets.stages import HOME_POOL
from ingest.broker import EmbeddedBroker
from pipeline.settings import PROJECT_ROOT
from tests.fixtures.postgres import postgres_server

pytestmark = pytest.mark.integration

DEPLOYED = PROJECT_ROOT / "deploy" / "dagster.yaml"
CORPUS = PROJECT_ROOT / "examples" / "corpus" / "helio-eu" / "hr"


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    with postgres_server() as env:
        yield env


@pytest.fixture
def dagster_home(tmp_path: Path, postgres: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """DAGSTER_HOME holding the shipped dagster.yaml, its variables pointing at the server."""
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(DEPLOYED, home / "dagster.yaml")
    for key, value in {**postgres, "DAGSTER_HOME": str(home)}.items():
        monkeypatch.setenv(key, value)
    return home


def query(postgres: dict[str, str], sql: str) -> list[tuple[object, ...]]:
    con = psycopg2.connect(host=postgres["DAGSTER_PG_HOST"], port=postgres["DAGSTER_PG_PORT"],
                           user=postgres["DAGSTER_PG_USER"], dbname=postgres["DAGSTER_PG_DB"])
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        con.close()


def test_a_pipeline_run_is_kept_in_postgres(dagster_home: Path, postgres: dict[str, str], broker: EmbeddedBroker,
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "factory"
    monkeypatch.setenv("AIFACTORY_HOME", str(data))
    (tmp_path / "docs").mkdir()
    shutil.copy(CORPUS / "remote-work.md", tmp_path / "docs")
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{"path": "docs", "tenant": "helio-eu", "jurisdiction": "EU"}]}))
    resources = run_resources(home=str(data), bootstrap_servers=broker.bootstrap_servers, topic_prefix="pg")
    unpartitioned = [a for a in ASSETS if a not in (compacted_lake_partition, tenant_usage_daily)]
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([*unpartitioned, *CHECKS], resources=resources, instance=instance,
                                run_config={"ops": {"raw_lake": {"config": {"sources_file": str(sources)}}}})
        assert result.success
        pools = instance.event_log_storage.get_concurrency_keys()
    # Read back from the server itself, not from the instance that wrote it.
    assert query(postgres, f"SELECT status FROM runs WHERE run_id = '{result.run_id}'") == [("SUCCESS",)]
    materialised = {k for (k,) in query(postgres, "SELECT DISTINCT asset_key FROM event_logs WHERE "
                                                  "dagster_event_type = 'ASSET_MATERIALIZATION'")}
    assert {'["raw_lake"]', '["vector_index"]', '["usage_ledger"]'} <= materialised
    # The pool of the data directory the code location was loaded for, one step at a time.
    assert HOME_POOL in pools


def test_the_daemon_runs_against_postgres(dagster_home: Path) -> None:
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    proc = subprocess.Popen([sys.executable, "-m", "dagster._daemon", "run", "-w", workspace], cwd=PROJECT_ROOT,
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wanted = {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR"}
        deadline = time.monotonic() + 120
        beating: set[str] = set()
        with dg.DagsterInstance.get() as instance:
            while not wanted <= beating:
                assert proc.poll() is None, f"the daemon exited with {proc.returncode}"
                assert time.monotonic() < deadline, f"heartbeats after 120 s: {sorted(beating)}"
                time.sleep(2)
                beating = set(instance.get_daemon_heartbeats())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
