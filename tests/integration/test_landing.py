"""Landing is exactly-once: offsets are committed only after the file is durable,
and re-reading a topic lands nothing twice."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from kafka import TopicPartition

from governance.contracts import DocumentEvent
from ingest.kafka import KafkaConnection, cluster_epoch
from ingest.lake import Lake
from ingest.landing import Lander
from ingest.settings import KafkaSettings
from ingest.sources import publish
from ingest.tables import RAW, raw_row

pytestmark = pytest.mark.integration


def events(n: int) -> list[DocumentEvent]:
    return [DocumentEvent.new(op="upsert", tenant="acme", document_id=f"acme:doc-{i}", version=1,
                              text=f"text {i}", jurisdiction="EU", region="eu-central",
                              source_uri=f"file:///d/{i}", source_root="file:///d") for i in range(n)]


def connection(kafka_settings: KafkaSettings) -> KafkaConnection:
    conn = KafkaConnection(kafka_settings, kafka_settings.bootstrap_servers,
                           cluster_epoch(kafka_settings.bootstrap_servers))
    conn.ensure_topics()
    return conn


def raw_lander(conn: KafkaConnection, lake: Lake, group: str) -> Lander:
    return Lander(conn, lake, topic=conn.settings.raw_topic, spec=RAW, group_id=group,
                  decode=lambda v, at: raw_row(DocumentEvent.from_json(v), at))


def land_all(lander: Lander, expected: int) -> None:
    lander.start()
    deadline = time.monotonic() + 30
    while lander.messages < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    lander.stop()


def test_rereading_the_topic_lands_nothing_twice(tmp_path: Path, kafka_settings: KafkaSettings) -> None:
    conn, lake = connection(kafka_settings), Lake(tmp_path)
    publish(conn, events(30), [])
    first = raw_lander(conn, lake, "g1")
    feed = first.feed()
    land_all(first, 30)
    assert len(lake.keys(RAW)) == 30 and first.rows_landed == 30
    assert sorted(r["event_id"] for r in feed.take()) == sorted(e.event_id for e in events(30))
    assert feed.take() == []  # each row is handed over once, and not kept after
    # A new group reads the whole topic again, as after a crash before the commit.
    again = raw_lander(conn, lake, "g2")
    land_all(again, 30)
    assert again.rows_landed == 0
    con = lake.connect(RAW)
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM raw").fetchone() == (30, 30)


def test_offsets_are_not_committed_when_the_write_fails(tmp_path: Path, kafka_settings: KafkaSettings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    conn, lake = connection(kafka_settings), Lake(tmp_path)
    publish(conn, events(10), [])
    broken = raw_lander(conn, lake, "g-crash")

    def fail(*args: object, **kwargs: object) -> list[Path]:
        raise OSError("disk full")

    monkeypatch.setattr(lake, "write", fail)
    broken.start()
    deadline = time.monotonic() + 30
    while broken.error is None and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(OSError, match="disk full"):
        broken.stop()
    consumer = conn.consumer("g-crash", kafka_settings.raw_topic)
    committed = [consumer.committed(TopicPartition(kafka_settings.raw_topic, p))
                 for p in range(kafka_settings.partitions)]
    consumer.close()
    assert all(c in (None, 0) for c in committed)
    monkeypatch.undo()
    # The same group resumes from the last commit and lands every event.
    land_all(raw_lander(conn, lake, "g-crash"), 10)
    assert len(lake.keys(RAW)) == 10


def test_a_message_that_breaks_the_contract_is_dead_lettered(tmp_path: Path, kafka_settings: KafkaSettings) -> None:
    conn, lake = connection(kafka_settings), Lake(tmp_path)
    producer = conn.producer()
    producer.send(kafka_settings.raw_topic, key=b"x", value=b'{"not": "an event"}').get(10)
    producer.close()
    letters: list[str] = []
    lander = Lander(conn, lake, topic=kafka_settings.raw_topic, spec=RAW, group_id=f"g{uuid.uuid4().hex}",
                    decode=lambda v, at: raw_row(DocumentEvent.from_json(v), at),
                    on_bad=lambda msg, at, exc: letters.append(str(exc)))
    land_all(lander, 1)
    assert lake.keys(RAW) == set()
    assert len(letters) == 1 and "not a valid DocumentEvent" in letters[0]
