"""The Dagster resources read the broker settings the CLI reads: what is not a field of
theirs comes from the environment, so a run and a sensor agree with `aifactory run`."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from assets.resources import FactoryResource, KafkaResource, home_pool


def test_partitions_and_security_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFACTORY_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("AIFACTORY_TOPIC_MIN_INSYNC_REPLICAS", "2")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "factory")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    sensor = KafkaResource(bootstrap_servers="kafka-1:9092").settings()
    run = FactoryResource(home="/data", bootstrap_servers="kafka-1:9092").settings().kafka
    for s in (sensor, run):
        assert (s.partitions, s.min_insync_replicas, s.sasl_mechanism) == (12, 2, "SCRAM-SHA-256")


def test_a_partitions_field_set_on_the_resource_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFACTORY_TOPIC_PARTITIONS", "12")
    assert KafkaResource(partitions=3).settings().partitions == 3
    assert KafkaResource().settings().partitions == 12


def test_each_data_directory_has_a_pool_of_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIFACTORY_HOME", str(tmp_path / "a"))
    first = home_pool()
    monkeypatch.setenv("AIFACTORY_HOME", str(tmp_path / "b"))
    assert home_pool() != first and home_pool().startswith("aifactory_home_b_")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIFACTORY_HOME", "a")  # relative: the same folder, the same pool
    assert home_pool() == first


def test_every_stage_asset_is_in_the_pool_of_its_home() -> None:
    from assets.definitions import ASSETS
    from assets.stages import HOME_POOL

    stages = [a for a in ASSETS if isinstance(a, dg.AssetsDefinition)]
    assert len(stages) == 8 and {a.op.pool for a in stages} == {HOME_POOL}


@pytest.mark.parametrize(("env", "kind"), [
    ({}, "in_process"),
    ({"KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092"}, "in_process"),  # the index is embedded: one process
    ({"KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092", "QDRANT_URL": "http://qdrant:6333"}, "multiprocess"),
])
def test_steps_get_processes_of_their_own_once_broker_and_index_are_servers(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], kind: str) -> None:
    from assets.definitions import executor

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert executor().name == kind
