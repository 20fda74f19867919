"""land_backlog against the session's real broker: what other producers left on the raw
topic lands once, even where the broker reports an end offset short of the last record;
a timeout names the topic and a second call resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaProducer

from ingest import landing
from ingest.broker import EmbeddedBroker
from ingest.errors import LandingTimeout
from ingest.kafka import KafkaConnection
from ingest.settings import KafkaSettings
from ingest.sources import Source, publish, scan
from ingest.tables import RAW
from pipeline.backlog import land_backlog
from pipeline.factory import Factory
from pipeline.settings import FactorySettings

pytestmark = pytest.mark.integration


def test_a_timeout_names_the_topic_and_a_second_call_resumes(broker: EmbeddedBroker, kafka_settings: KafkaSettings,
                                                              tmp_path: Path) -> None:
    factory = Factory(FactorySettings(home=tmp_path / "home", kafka=kafka_settings, stage_timeout_s=0))
    conn = KafkaConnection(kafka_settings, broker.bootstrap_servers, "test")
    conn.ensure_topics()
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(5):
        (docs / f"note-{n}.md").write_text(f"# Note {n}\n\nShift handover number {n} for the forklift bay.\n")
    events = scan(Source(docs, "helio-us", "US"), factory.policy, factory.lake).published
    publish(conn, events, [])  # as another producer: nobody of ours waits for them

    with pytest.raises(LandingTimeout, match=kafka_settings.raw_topic):
        land_backlog(factory, conn)
    factory.settings.stage_timeout_s = 60
    report = land_backlog(factory, conn)
    assert report.topic == kafka_settings.raw_topic and report.dead_lettered == 0
    assert all(after >= report.targets[p] for p, (_, after) in report.offsets.items())
    con = factory.lake.connect(RAW)
    rows = dict(con.execute("SELECT event_id, count(*) FROM raw GROUP BY 1").fetchall())
    con.close()
    assert rows == {e.event_id: 1 for e in events}  # whatever the first call landed stayed, nothing twice

    again = land_backlog(factory, conn)
    assert again.landed == again.consumed == 0


def test_an_end_offset_short_of_the_last_record_does_not_stop_landing(
        broker: EmbeddedBroker, kafka_settings: KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tansu reports the end offset of a partition as the last batch's base offset + 1,
    short of the last record (ARCHITECTURE.md). With one large batch per partition and
    small landing batches, that end offset is reached long before the last record:
    landing goes on until the topic is quiet."""
    monkeypatch.setattr(landing, "FLUSH_ROWS", 3)
    N = 600
    factory = Factory(FactorySettings(home=tmp_path / "home", kafka=kafka_settings, stage_timeout_s=60))
    conn = KafkaConnection(kafka_settings, broker.bootstrap_servers, "test")
    conn.ensure_topics()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tickets.jsonl").write_text("".join(
        json.dumps({"id": f"T-{n}", "title": f"Ticket {n}", "text": f"Charger {n} in bay {n % 7} fails."}) + "\n"
        for n in range(N)))
    events = scan(Source(docs, "helio-us", "US"), factory.policy, factory.lake).published
    assert len(events) == N
    # Another producer's settings: one large batch per partition.
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all", linger_ms=1_000,
                             batch_size=1 << 20)
    for e in events:
        producer.send(kafka_settings.raw_topic, key=e.document_id.encode(), value=e.to_json())
    producer.flush()
    producer.close()

    report = land_backlog(factory, conn)
    assert sum(report.targets.values()) < N  # what the broker reports
    assert report.landed == report.consumed == N
    con = factory.lake.connect(RAW)
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM raw").fetchall() == [(N, N)]
    con.close()
