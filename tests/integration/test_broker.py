"""The embedded broker starts on a free loopback port, serves the Kafka protocol,
and leaves no process behind."""

from __future__ import annotations

import os

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from ingest.broker import EmbeddedBroker
from ingest.errors import BrokerError
from ingest.kafka import cluster_epoch

pytestmark = pytest.mark.integration


def test_round_trip_and_clean_stop() -> None:
    with EmbeddedBroker() as broker:
        assert broker.running and cluster_epoch(broker.bootstrap_servers) == f"cluster-{broker.epoch}"
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
        producer.send("probe", key=b"k", value=b"hello").get(10)
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, auto_offset_reset="earliest",
                                 consumer_timeout_ms=5000)
        consumer.assign([TopicPartition("probe", p) for p in consumer.partitions_for_topic("probe")])
        assert [m.value for m in consumer] == [b"hello"]
        consumer.close()
        pid = broker.pid
    assert pid is not None and not broker.running
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_unreachable_cluster_is_a_clear_error() -> None:
    with pytest.raises(BrokerError, match="KAFKA_BOOTSTRAP_SERVERS"):
        cluster_epoch("127.0.0.1:1")
