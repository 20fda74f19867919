"""The lag sensors against the session's real broker: per-partition offsets in the
cursor, deterministic run keys, nothing asked twice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import dagster as dg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from assets.definitions import defs
from assets.maintenance import compaction_schedule
from assets.resources import KafkaResource
from assets.topics import TOPICS, consumer_lag, lag_sensor
from ingest.broker import EmbeddedBroker
from ingest.kafka import KafkaConnection

pytestmark = pytest.mark.integration

DEAD_LETTERS = next(t for t in TOPICS if t.name == "dead-letters")


def _produce(servers: str, topic: str, partition: int, n: int) -> None:
    producer = KafkaProducer(bootstrap_servers=servers, acks="all")
    for i in range(n):  # one record batch each: Tansu's end offset counts batches short otherwise
        producer.send(topic, value=f"m{i}".encode(), partition=partition)
        producer.flush()
    producer.close()


def _commit(servers: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = KafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False)
    consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})
    consumer.close()


def test_lag_sensor_asks_once_per_new_offset_range(broker: EmbeddedBroker) -> None:
    kafka = KafkaResource(bootstrap_servers=broker.bootstrap_servers, topic_prefix=f"s{uuid.uuid4().hex[:8]}")
    settings = kafka.settings()
    KafkaConnection(settings, broker.bootstrap_servers, "test").ensure_topics()
    topic, group = DEAD_LETTERS.full_name(settings), DEAD_LETTERS.group_id(settings)
    sensor = lag_sensor(DEAD_LETTERS, "dead_letters_job")

    def tick(cursor: str | None) -> dg.SensorResult:
        with dg.build_sensor_context(cursor=cursor, resources={"kafka": kafka}) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    idle = tick(None)
    assert not idle.run_requests and json.loads(idle.cursor or "") == {"0": 0, "1": 0, "2": 0, "3": 0}

    _produce(broker.bootstrap_servers, topic, 1, 3)
    first = tick(idle.cursor)
    assert [r.run_key for r in first.run_requests or []] == [f"{topic}-1-0-3"]
    assert json.loads(first.cursor or "")["1"] == 3
    observed = first.asset_events[0]
    assert observed.asset_key == DEAD_LETTERS.key and observed.metadata["consumer_lag"].value == 3
    # A restarted sensor (same cursor) asks for the same run again: Dagster drops the repeat by its key.
    assert [r.run_key for r in tick(idle.cursor).run_requests or []] == [f"{topic}-1-0-3"]
    assert not tick(first.cursor).run_requests  # nothing new since

    _commit(broker.bootstrap_servers, group, topic, {1: 3})  # the landing group caught up
    _produce(broker.bootstrap_servers, topic, 2, 2)
    assert consumer_lag(settings, topic, group)[1] == (3, 3)
    second = tick(first.cursor)
    assert [r.run_key for r in second.run_requests or []] == [f"{topic}-2-0-2"]
    assert second.asset_events[0].metadata["consumer_lag"].value == 2


def test_lag_sensors_are_idle_in_embedded_mode() -> None:
    sensor = lag_sensor(DEAD_LETTERS, "dead_letters_job")
    with dg.build_sensor_context(resources={"kafka": KafkaResource()}) as context:
        result = sensor(context)
    assert isinstance(result, dg.SkipReason) and "KAFKA_BOOTSTRAP_SERVERS" in (result.skip_message or "")


def test_every_topic_has_a_sensor_and_a_job() -> None:
    d = defs()
    names = {s.name: s for s in d.sensors or []}
    assert set(names) == {"raw_documents_lag_sensor", "chunks_lag_sensor", "dead_letters_lag_sensor"}
    assert names["raw_documents_lag_sensor"].job_name == "ingest_job"
    assert {s.name for s in d.schedules or []} == {"compaction_schedule", "usage_schedule", "reindex_schedule"}


def test_compaction_schedule_asks_for_yesterday_in_every_region() -> None:
    when = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        requests = compaction_schedule(context)
    assert isinstance(requests, list)
    assert [(r.run_key, r.partition_key) for r in requests] == [
        ("compact-2026-11-22-eu-central", dg.MultiPartitionKey({"date": "2026-11-22", "region": "eu-central"})),
        ("compact-2026-11-22-us-east", dg.MultiPartitionKey({"date": "2026-11-22", "region": "us-east"})),
    ]
