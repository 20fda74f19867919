"""The Dagster resources read the broker settings the CLI reads: what is not a field of
theirs comes from the environment, so a run and a sensor agree with `aifactory run`."""

from __future__ import annotations

import pytest

from assets.resources import FactoryResource, KafkaResource


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
