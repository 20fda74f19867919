"""The factory against a Kafka cluster named by KAFKA_BOOTSTRAP_SERVERS, played by real
Tansu brokers started here: security settings that reach the clients (and fail fast and
clearly where the listener disagrees), existing topics checked, and a cluster that lost
its log but kept its id, whose events are republished from the raw lake at once instead
of waited for until the stage timeout.

Tansu 0.6 (the shipped broker) takes --cert but its listener stays plaintext, and with
--authentication it refuses every client but offers no way to create the first SCRAM
user, so TLS and SASL are tested up to the refusal; the options themselves are tested
against both clients in tests/unit/ingest/test_security.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from benchmarks.faults import Folder, rounds_until_hit
from ingest.broker import broker_binary, free_port
from ingest.errors import BrokerError
from ingest.kafka import CONNECT_TIMEOUT_S, connect
from ingest.settings import KafkaSettings
from pipeline.settings import PROJECT_ROOT
from tests.fixtures.procs import serving
from tests.fixtures.s3 import CREDENTIALS, make_bucket, s3_server
from tests.unit.ingest.test_security import pem_pair
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus" / "helio-eu" / "hr"


@contextlib.contextmanager
def tansu(port: int, cluster_id: str, *extra: str, storage: str = "memory://tansu/",
          env: dict[str, str] | None = None, kill: bool = False) -> Iterator[str]:
    """A Tansu broker on `port` with `cluster_id`. On memory storage, started again with the
    same two, it is a cluster that kept its id and lost its log; on s3:// storage (`env`
    names the endpoint) brokers with one id share one durable log."""
    url = f"tcp://127.0.0.1:{port}"
    with serving([broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                  "--cluster-id", cluster_id, "--storage-engine", storage, *extra], port, env=env, kill=kill) as at:
        yield at


def cli_env(home: Path, bootstrap: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}
    return {**env, "AIFACTORY_HOME": str(home), "KAFKA_BOOTSTRAP_SERVERS": bootstrap, **extra}


def cli(env: dict[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "aifactory.cli", *args], env=env, capture_output=True, text=True,
                          timeout=400, stdin=subprocess.DEVNULL)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def test_tls_settings_reach_the_clients_and_a_plaintext_listener_is_a_fast_clear_error(tmp_path: Path) -> None:
    ca, _ = pem_pair(tmp_path, "ca")
    with tansu(free_port(), f"tls-{uuid.uuid4().hex[:8]}") as bootstrap:
        settings = KafkaSettings(bootstrap_servers=bootstrap, security_protocol="SSL", ssl_cafile=ca)
        started = time.monotonic()
        with pytest.raises(BrokerError, match=r"did not complete a TLS handshake.*KAFKA_SECURITY_PROTOCOL"), \
                connect(settings):
            pass
        assert time.monotonic() - started < CONNECT_TIMEOUT_S


def test_a_cluster_that_requires_authentication_is_one_clear_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(CORPUS / "remote-work.md", docs)
    with tansu(free_port(), f"auth-{uuid.uuid4().hex[:8]}", "--authentication") as bootstrap:
        proc = cli(cli_env(tmp_path / "home", bootstrap), "ingest", str(docs), "--tenant", "t1",
                   "--jurisdiction", "EU", expect=2)
    last = proc.stderr.strip().splitlines()[-1]
    assert "did not let a PLAINTEXT client in" in last and "KAFKA_SASL_" in last, proc.stderr


def test_existing_topics_with_other_partitions_are_refused_by_name(tmp_path: Path) -> None:
    with tansu(free_port(), f"topics-{uuid.uuid4().hex[:8]}") as bootstrap:
        settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix="ops", partitions=4)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic(settings.raw_topic, 2, 1)])
        admin.close()
        refused = r"'ops.raw-documents' has 2 partition\(s\).*AIFACTORY_TOPIC_PARTITIONS"
        with pytest.raises(BrokerError, match=refused), connect(settings):
            pass
        with connect(settings.model_copy(update={"partitions": 2})) as conn:  # as the cluster has them: fine
            assert conn.epoch.startswith("cluster-topics-")


def test_a_cluster_that_lost_its_log_gets_its_events_again_without_waiting(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("remote-work.md", "parental-leave.md"):
        shutil.copy(CORPUS / name, docs / name)
    port, cluster = free_port(), f"lost-{uuid.uuid4().hex[:8]}"
    timeout_s = 60
    env = cli_env(tmp_path / "home", f"127.0.0.1:{port}", AIFACTORY_STAGE_TIMEOUT_S=str(timeout_s))
    with tansu(port, cluster):
        landed = json.loads(cli(env, "ingest", str(docs), "--tenant", "t1", "--jurisdiction", "EU",
                                "--json").stdout)
    assert landed["raw_landed"] == 2  # landed, never chunked: both are pending in the lake
    with tansu(port, cluster):  # the same cluster id, the log gone
        started = time.monotonic()
        run = json.loads(cli(env, "run", str(docs), "--tenant", "t1", "--jurisdiction", "EU", "--json").stdout)["run"]
        took = time.monotonic() - started
    assert run["recovered"] == 2 and run["chunks_landed"] > 0 and run["points_upserted"] > 0, run
    assert took < timeout_s, f"the run waited {took:.0f} s for events the log no longer holds"


@pytest.mark.parametrize(("extra", "named"), [
    ({"AIFACTORY_TOPIC_PARTITIONS": "four"}, "AIFACTORY_TOPIC_PARTITIONS='four'"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs KAFKA_SASL_MECHANISM"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "ca.pem"}, "KAFKA_SSL_CAFILE='ca.pem'"),
])
def test_a_wrong_setting_is_one_line_naming_the_variable(tmp_path: Path, extra: dict[str, str], named: str) -> None:
    proc = cli(cli_env(tmp_path / "home", "127.0.0.1:9092", **extra), "run", str(tmp_path), "--tenant", "t1",
               "--jurisdiction", "EU", expect=2)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("aifactory run: ") and named in last, proc.stderr


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


def test_two_brokers_on_durable_storage_lose_and_duplicate_nothing_when_one_is_killed_mid_run(
        tmp_path: Path, s3: str) -> None:
    """Tansu's s3:// storage against an S3-protocol server: broker A is killed (-9) while a
    run chunks its events; the clients go on through broker B, which serves the same log,
    so nothing is republished, lost or doubled."""
    bucket = f"log-{uuid.uuid4().hex[:8]}"
    make_bucket(s3, bucket)
    storage = {"storage": f"s3://{bucket}/", "env": {**CREDENTIALS, "AWS_ENDPOINT": s3, "AWS_ALLOW_HTTP": "true"}}
    docs = tmp_path / "docs"
    shutil.copytree(CORPUS, docs)
    cluster, a, b = f"durable-{uuid.uuid4().hex[:8]}", free_port(), free_port()
    env = cli_env(tmp_path / "home", f"127.0.0.1:{a},127.0.0.1:{b}", AIFACTORY_STAGE_TIMEOUT_S="180")
    with tansu(b, cluster, **storage), tansu(a, cluster, kill=True, **storage) as broker_a:  # type: ignore[arg-type]
        run = subprocess.Popen([sys.executable, "-m", "aifactory.cli", "run", str(docs), "--tenant", "t1",
                                "--jurisdiction", "EU", "--json"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        assert run.stderr is not None
        seen = []
        for line in run.stderr:  # until the events are on their way through the stream
            seen.append(line)
            if "chunking" in line:
                break
        subprocess.run(["pkill", "-9", "-f", f"listener-url tcp://{broker_a} "], check=True)
        out, rest = run.communicate(timeout=300)
        assert run.returncode == 0, "".join(seen) + rest
        held = json.loads(cli(env, "status", "--json").stdout)
    report = json.loads(out)["run"]
    files = len(list(docs.iterdir()))
    assert report["recovered"] == 0 and report["raw_landed"] == files, report  # from B's log, not republished
    tenant = held["tenants"]["t1"]
    assert (tenant["events"], tenant["documents"]) == (files, files), tenant  # none lost, none doubled
    assert tenant["points"] == tenant["current_chunks"] == report["chunks_landed"] > 0, tenant
    assert held["totals"]["repeated_keys"] == 0, held


def test_a_topic_made_again_and_filled_past_the_old_offsets_gets_its_events_republished(tmp_path: Path) -> None:
    """The offsets the raw lake remembers are inside the new topic's range, but they hold
    other records: the topic's id says it is another topic."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("remote-work.md", "parental-leave.md"):
        shutil.copy(CORPUS / name, docs / name)
    timeout_s = 60
    with tansu(free_port(), f"remade-{uuid.uuid4().hex[:8]}") as bootstrap:
        env = cli_env(tmp_path / "home", bootstrap, AIFACTORY_STAGE_TIMEOUT_S=str(timeout_s))
        landed = json.loads(cli(env, "ingest", str(docs), "--tenant", "t1", "--jurisdiction", "EU",
                                "--json").stdout)
        assert landed["raw_landed"] == 2
        topic = KafkaSettings().raw_topic
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.delete_topics([topic])
        admin.create_topics([NewTopic(topic, 4, 1)])
        admin.close()
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        for partition in range(4):  # another producer's records, past every offset the lake holds
            for _ in range(5):
                producer.send(topic, key=b"other", value=b'{"not": "a document event"}', partition=partition)
        producer.flush()
        producer.close()
        started = time.monotonic()
        run = json.loads(cli(env, "run", str(docs), "--tenant", "t1", "--jurisdiction", "EU", "--json").stdout)["run"]
        took = time.monotonic() - started
    assert run["recovered"] == 2 and run["points_upserted"] > 0, run
    assert took < timeout_s, f"the run waited {took:.0f} s for events the new topic does not hold"


@pytest.mark.timeout(600)
def test_a_worker_and_the_indexer_killed_in_turn_on_durable_brokers_and_an_object_store_lake(
        tmp_path: Path, s3: str, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster setup end to end: two Tansu brokers sharing a log on S3 storage and the
    lake in a bucket of the same server. A transform worker, then the indexer (the run while
    it embeds), is SIGKILLed at a random moment; after each restart the lake, the index and
    the dead letters hold exactly what the folder says (benchmarks/faults.py's check)."""
    log, lake = f"log-{uuid.uuid4().hex[:8]}", f"lake-{uuid.uuid4().hex[:8]}"
    make_bucket(s3, log)
    make_bucket(s3, lake)
    storage = {"storage": f"s3://{log}/", "env": {**CREDENTIALS, "AWS_ENDPOINT": s3, "AWS_ALLOW_HTTP": "true"}}
    cluster, a, b = f"faults-{uuid.uuid4().hex[:8]}", free_port(), free_port()
    for k, v in {**CREDENTIALS, "AWS_ENDPOINT_URL": s3, "AIFACTORY_LAKE_URL": f"s3://{lake}/factory",
                 "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{a},127.0.0.1:{b}"}.items():
        monkeypatch.setenv(k, v)
    rng = random.Random("cluster")
    folder = Folder(tmp_path / "src", rng)
    folder.root.mkdir()
    folder.add(6)
    home = tmp_path / "home"
    with tansu(a, cluster, **storage), tansu(b, cluster, **storage):  # type: ignore[arg-type]
        for target in ("worker", "indexer"):
            kill = None
            for kill, broken in rounds_until_hit(target, home, folder, rng, embedder):
                assert broken == [], kill
            assert kill is not None and kill.hit, f"no kill of the {target} landed while it worked in 3 runs"
    assert not list(home.rglob("*.parquet"))  # the lake was in the bucket throughout
