"""The lake on object storage: an S3-protocol server (moto's, from PyPI) started here,
a bucket per region named by AIFACTORY_LAKE_REGION_URLS, the CLI run by an operator
against it, and the Lake itself read by a second process as a second machine would."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow.dataset as ds
import pytest

from benchmarks.faults import Folder, rounds_until_hit
from governance.audit import AuditLog
from governance.contracts import DocumentEvent, LogPosition
from governance.residency import Jurisdiction, ResidencyPolicy
from ingest.broker import free_port
from ingest.errors import LakeError
from ingest.lake import Lake
from ingest.tables import RAW, raw_row
from pipeline.erasure_proof import Spellings, prove
from pipeline.settings import PROJECT_ROOT
from tests.fixtures.s3 import CREDENTIALS, make_bucket, s3_server
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus"
AT = LogPosition(epoch="e", topic="raw", partition=0, offset=0)
SUBJECT = "tobias.hartmann.privat@example.de"  # named in helio-eu/hr/new-hire-welcome-letter.txt


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def buckets(s3: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fresh buckets (default, EU, US), and this process's S3 client pointed at the server."""
    names = {k: f"{k}-{uuid.uuid4().hex[:8]}" for k in ("main", "eu", "us")}
    for name in names.values():
        make_bucket(s3, name)
    for k, v in {**CREDENTIALS, "AWS_ENDPOINT_URL": s3}.items():
        monkeypatch.setenv(k, v)
    return names


def objects(endpoint: str, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def event(tenant: str, n: int, *, jurisdiction: str = "EU", region: str = "eu-central") -> DocumentEvent:
    return DocumentEvent.new(op="upsert", tenant=tenant, document_id=f"{tenant}:d{n}.md", version=1,
                             text=f"text {n}", jurisdiction=jurisdiction, region=region, source_uri="",
                             source_root="")


def regional_lake(tmp_path: Path, b: dict[str, str]) -> Lake:
    return Lake(tmp_path / "lake", url=f"s3://{b['main']}/factory",
                region_urls={"eu-central": f"s3://{b['eu']}/factory", "us-east": f"s3://{b['us']}/factory"},
                audit=AuditLog(tmp_path / "audit.jsonl"))


def test_rows_go_to_their_regions_bucket_and_read_back_through_duckdb(
        tmp_path: Path, s3: str, buckets: dict[str, str]) -> None:
    lake = regional_lake(tmp_path, buckets)
    eu = lake.write(RAW, [raw_row(event("t1", n), AT) for n in range(3)])
    us = lake.write(RAW, [raw_row(event("t2", 9, jurisdiction="US", region="us-east"), AT)])

    assert objects(s3, buckets["eu"]) == [f"factory/{k}" for k in eu]
    assert objects(s3, buckets["us"]) == [f"factory/{k}" for k in us]
    # Locally only the caches of keys (`_keys/`): no row, no file of the table.
    assert objects(s3, buckets["main"]) == [] and not list((tmp_path / "lake").rglob("*.parquet"))
    with lake.connect(RAW) as con:  # one DuckDB view over both buckets, no extension
        rows = con.execute("SELECT region, count(*) FROM raw GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("eu-central", 3), ("us-east", 1)]

    # What another machine sees: a second process with only the URLs and credentials.
    code = ("from ingest.lake import Lake; from ingest.tables import RAW; from pathlib import Path; import sys; "
            "lake = Lake(Path(sys.argv[1]), url=sys.argv[2], region_urls=dict([sys.argv[3].split('=', 1), "
            "sys.argv[4].split('=', 1)])); print(sorted(lake.keys(RAW)))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "other"), f"s3://{buckets['main']}/factory",
                          f"eu-central=s3://{buckets['eu']}/factory", f"us-east=s3://{buckets['us']}/factory"],
                         capture_output=True, text=True, check=True, cwd=PROJECT_ROOT, env=dict(os.environ))
    assert out.stdout.strip() == repr(sorted(lake.keys(RAW)))


def test_a_region_without_a_bucket_is_refused_and_nothing_is_written(tmp_path: Path, buckets: dict[str, str]) -> None:
    lake = Lake(tmp_path / "lake", region_urls={"eu-central": f"s3://{buckets['eu']}/factory"},
                residency=ResidencyPolicy({"EU": Jurisdiction(home="eu-central", allowed=("eu-central", "eu-west"))}))
    with pytest.raises(LakeError, match=r"eu-west.*AIFACTORY_LAKE_REGION_URLS"):
        lake.write(RAW, [raw_row(event("t1", 1, region="eu-west"), AT)])
    assert lake.files(RAW) == []


def test_removing_rows_quarantine_and_kept_bytes_work_on_objects(
        tmp_path: Path, s3: str, buckets: dict[str, str]) -> None:
    lake = regional_lake(tmp_path, buckets)
    [key] = lake.write(RAW, [raw_row(event("t1", n), AT) for n in range(3)])
    gone = next(r for r in lake.read_table(key).to_pylist() if r["document_id"] == "t1:d1.md")["event_id"]
    assert lake.remove_rows(RAW, "event_id", {gone}) == {key: 1}
    assert sorted(lake.keys(RAW)) == sorted(r["event_id"] for r in lake.dataset(RAW).to_table().to_pylist())
    assert gone not in lake.keys(RAW) and len(lake.keys(RAW)) == 2 and not lake.exists(key)

    uri = lake.store_blob("eu-central", "t1", b"the failing bytes")
    assert uri.startswith(f"s3://{buckets['eu']}/factory/dead_letter_blobs/region=eu-central/tenant=t1/")
    assert [lake.read_bytes(b.key) for b in lake.blobs("t1")] == [b"the failing bytes"]

    broken = "raw/region=eu-central/tenant=t1/date=2026-12-06/part-broken.parquet"
    lake.store.put(broken, lambda out: out.write(b"PAR1 not parquet PAR1"))
    assert broken not in lake.files(RAW)  # moved aside, the rest still answers
    assert f"factory/quarantine/{broken}" in objects(s3, buckets["eu"])
    assert isinstance(lake.dataset(RAW), ds.Dataset) and len(lake.keys(RAW)) == 2


def test_the_erasure_proof_searches_the_buckets(tmp_path: Path, buckets: dict[str, str]) -> None:
    lake = regional_lake(tmp_path, buckets)
    named = DocumentEvent.new(op="upsert", tenant="t1", document_id="t1:letter.md", version=1,
                              text=f"Write to {SUBJECT} before Monday.", jurisdiction="EU", region="eu-central",
                              source_uri="", source_root="")
    [key] = lake.write(RAW, [raw_row(named, AT), raw_row(event("t1", 2), AT)])
    (tmp_path / "home").mkdir()
    proof = prove(tmp_path / "home", "t1", Spellings(SUBJECT), broker="", lake=lake)
    assert proof.found == [lake.uri(key)] and lake.uri(key).startswith(f"s3://{buckets['eu']}/")
    lake.remove_rows(RAW, "event_id", {named.event_id})
    assert prove(tmp_path / "home", "t1", Spellings(SUBJECT), broker="", lake=lake).found == []


def cli(env: dict[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "aifactory.cli", *args], env=env, capture_output=True, text=True,
                          timeout=400, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def regional_env(tmp_path: Path, s3: str) -> tuple[dict[str, str], dict[str, str]]:
    """Fresh buckets, and a command's environment with the lake in them (a bucket per region)."""
    names = {k: f"{k}-{uuid.uuid4().hex[:8]}" for k in ("main", "eu", "us")}
    for name in names.values():
        make_bucket(s3, name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_", "AWS_"))}
    env.update({**CREDENTIALS, "AWS_ENDPOINT_URL": s3, "AIFACTORY_HOME": str(tmp_path / "home"),
                "AIFACTORY_LAKE_URL": f"s3://{names['main']}/factory",
                "AIFACTORY_LAKE_REGION_URLS": f"eu-central=s3://{names['eu']}/factory,"
                                              f"us-east=s3://{names['us']}/factory"})
    return names, env


def test_the_cli_runs_the_pipeline_on_a_lake_in_regional_buckets(tmp_path: Path, s3: str) -> None:
    names, env = regional_env(tmp_path, s3)
    eu_docs, us_docs = CORPUS / "helio-eu" / "hr", CORPUS / "helio-us" / "hr"
    cli(env, "run", str(eu_docs), "--tenant", "helio-eu", "--jurisdiction", "EU")
    cli(env, "run", str(us_docs), "--tenant", "helio-us", "--jurisdiction", "US")

    eu, us = objects(s3, names["eu"]), objects(s3, names["us"])
    assert eu and all("region=eu-central" in k for k in eu), eu
    assert us and all("region=us-east" in k for k in us), us
    assert {k.split("/")[1] for k in eu} >= {"raw", "chunks"}
    assert not list((tmp_path / "home").rglob("*.parquet"))  # nothing of the lake on this machine's disk

    held = json.loads(cli(env, "status", "--json").stdout)
    files = {"helio-eu": len(list(eu_docs.iterdir())), "helio-us": len(list(us_docs.iterdir()))}
    for tenant, n in files.items():
        seen = held["tenants"][tenant]
        assert (seen["events"], seen["documents"]) == (n, n), seen
        assert seen["points"] == seen["current_chunks"] > 0, seen
    assert held["totals"]["repeated_keys"] == 0
    assert held["lake"]["location"] == f"s3://{names['main']}/factory"

    hits = json.loads(cli(env, "search", "How is parental leave paid?", "--tenant", "helio-eu", "--json").stdout)
    assert hits[0]["document_id"] == "helio-eu:parental-leave.md", hits[0]

    cli(env, "run", str(eu_docs), "--tenant", "helio-eu", "--jurisdiction", "EU")  # nothing changed: nothing new
    assert objects(s3, names["eu"]) == eu

    # Erasure rewrites the objects, and its proof searches the buckets, not only the data directory.
    receipt = json.loads(cli(env, "erase", "--tenant", "helio-eu", "--subject", SUBJECT, "--json").stdout)
    assert receipt["documents"] == ["helio-eu:new-hire-welcome-letter.txt"], receipt
    assert receipt["proof"]["found"] == [] and receipt["proof"]["files"] > len(eu) + len(us), receipt["proof"]
    assert sum(receipt["removed"]["raw lake rows"].values()) >= 1
    assert objects(s3, names["eu"]) != eu and objects(s3, names["us"]) == us


@pytest.mark.parametrize(("extra", "named"), [
    ({"AIFACTORY_LAKE_URL": "ftp://host/lake"}, "AIFACTORY_LAKE_URL"),
    ({"AIFACTORY_LAKE_URL": "s3:///no-bucket"}, "AIFACTORY_LAKE_URL"),
    ({"AIFACTORY_LAKE_REGION_URLS": "eu-central"}, "AIFACTORY_LAKE_REGION_URLS"),
])
def test_a_wrong_lake_setting_is_one_line_naming_the_variable(tmp_path: Path, extra: dict[str, str],
                                                              named: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}
    proc = cli({**env, "AIFACTORY_HOME": str(tmp_path / "home"), **extra}, "run", str(tmp_path), "--tenant", "t1",
               "--jurisdiction", "EU", expect=2)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("aifactory run: ") and named in last, proc.stderr


def test_a_region_map_missing_a_region_of_the_policy_is_refused_before_anything_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.md").write_text("# Note\n\nA note.\n")
    proc = subprocess.run([sys.executable, "-m", "aifactory.cli", "run", str(docs), "--tenant", "t1",
                           "--jurisdiction", "EU"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT,
                          env={**env, "AIFACTORY_HOME": str(tmp_path / "home"),
                               "AIFACTORY_LAKE_REGION_URLS": "eu-central=s3://lake-eu/factory"})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "us-east" in proc.stderr and "AIFACTORY_LAKE_REGION_URLS" in proc.stderr, proc.stderr


@pytest.mark.timeout(420)
def test_a_lander_killed_mid_run_on_an_object_store_lake_restarts_to_exactly_the_expected_state(
        tmp_path: Path, buckets: dict[str, str], monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    """benchmarks/faults.py's check, with the lake in regional buckets: SIGKILL the process
    that lands the lake while it uploads; after a restart nothing is lost or held twice."""
    monkeypatch.setenv("AIFACTORY_LAKE_URL", f"s3://{buckets['main']}/factory")
    monkeypatch.setenv("AIFACTORY_LAKE_REGION_URLS", f"eu-central=s3://{buckets['eu']}/factory,"
                                                     f"us-east=s3://{buckets['us']}/factory")
    rng = random.Random("object-store")
    folder = Folder(tmp_path / "src", rng)
    folder.root.mkdir()
    folder.add(6)
    home, kill = tmp_path / "home", None
    for kill, broken in rounds_until_hit("landing", home, folder, rng, embedder):
        assert broken == [], kill
    assert kill is not None and kill.hit, "no kill of the lander landed while it worked in 3 runs"
    landed = objects(os.environ["AWS_ENDPOINT_URL"], buckets["eu"])
    assert not list(home.rglob("*.parquet")) and any(k.startswith("factory/raw/region=eu-central/") for k in landed)


def test_the_running_factory_lands_into_the_buckets_and_its_clients_read_them(tmp_path: Path, s3: str) -> None:
    """`aifactory up` with the lake on object storage: its landers upload, and a command
    that is its client waits for its outcomes by listing the bucket."""
    names, env = regional_env(tmp_path, s3)
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "aifactory.cli", "up", "--port", str(free_port())], env=env,
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while "the factory is up" not in log.read_text(errors="replace"):
            assert up.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "canteen.md").write_text("# Canteen\nThe Zanzibar canteen serves cardamom buns on Fridays.")
        done = json.loads(cli(env, "run", str(docs), "--tenant", "acme", "--jurisdiction", "EU", "--json").stdout)
        assert done["run"]["published"] == 1 and done["run"]["indexed_by"] == "the running indexer", done
        assert any(k.startswith("factory/chunks/region=eu-central/tenant=acme/") for k in objects(s3, names["eu"]))
        hit = json.loads(cli(env, "search", "cardamom buns", "--tenant", "acme", "--json").stdout)
        assert hit[0]["document_id"] == "acme:canteen.md"
        assert not list((tmp_path / "home").rglob("*.parquet"))
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(30)
