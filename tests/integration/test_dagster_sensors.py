"""The lag sensors against the session's real broker: per-partition offsets in the
cursor, deterministic run keys, nothing asked twice; and the run the raw-topic sensor
asks for lands a backlog that another producer left on the topic."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from assets.definitions import ASSETS, CHECKS, defs
from assets.maintenance import compaction_schedule, ingest_job, reindex_schedule
from assets.resources import KafkaResource, run_resources
from assets.topics import TOPICS, consumer_lag, lag_sensor
from ingest.broker import EmbeddedBroker
from ingest.kafka import KafkaConnection
from ingest.sources import Source, publish, scan
from ingest.tables import DEAD_LETTERS as DEAD_LETTERS_TABLE
from ingest.tables import RAW
from pipeline.settings import PROJECT_ROOT
from tests.conftest import MakeFactory
from vectorstore.embedder import Embedder
from vectorstore.search import search

pytestmark = pytest.mark.integration

DEAD_LETTERS = next(t for t in TOPICS if t.name == "dead-letters")
RAW_DOCUMENTS = next(t for t in TOPICS if t.name == "raw-documents")
HR = PROJECT_ROOT / "examples" / "corpus" / "helio-us" / "hr"


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


def ticker(sensor: dg.SensorDefinition, kafka: KafkaResource) -> Callable[[str | None], dg.SensorResult]:
    """Ticks `sensor` from a cursor, as the daemon would."""

    def tick(cursor: str | None) -> dg.SensorResult:
        with dg.build_sensor_context(cursor=cursor, resources={"kafka": kafka}) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    return tick


def test_lag_sensor_asks_once_per_new_offset_range(broker: EmbeddedBroker) -> None:
    kafka = KafkaResource(bootstrap_servers=broker.bootstrap_servers, topic_prefix=f"s{uuid.uuid4().hex[:8]}")
    settings = kafka.settings()
    KafkaConnection(settings, broker.bootstrap_servers, "test").ensure_topics()
    topic, group = DEAD_LETTERS.full_name(settings), DEAD_LETTERS.group_id(settings)
    tick = ticker(lag_sensor(DEAD_LETTERS, "dead_letters_job"), kafka)

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
    assert consumer_lag(broker.bootstrap_servers, topic, group)[1] == (3, 3)
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
    assert set(names) == {"raw_documents_lag_sensor", "chunks_lag_sensor", "dead_letters_lag_sensor",
                          "outside_writes_sensor"}
    assert names["raw_documents_lag_sensor"].job_name == "ingest_job"
    assert {s.name for s in d.schedules or []} == {"compaction_schedule", "usage_schedule", "reindex_schedule",
                                                    "freshness_schedule"}


def _tick(schedule: Any, when: datetime) -> Any:
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        return schedule(context)


def test_compaction_runs_each_region_in_its_hour_of_least_carbon_intensity(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A deferrable job lands in the cheapest window before its deadline: each region's run
    of yesterday's compaction is asked for in that region's cheapest hour, once, and a tick
    missed then is caught up by the next (the run key keeps it one run)."""
    series = tmp_path / "intensity.csv"
    rows = ["region,start,gco2e_per_kwh"]
    for hour in range(24):
        rows.append(f"eu-central,2026-11-23T{hour:02d}:00:00Z,{100 if hour == 14 else 300}")
        rows.append(f"us-east,2026-11-23T{hour:02d}:00:00Z,{50 if hour == 3 else 400 if hour < 23 else 10}")
    series.write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("AIFACTORY_CARBON_INTENSITY", str(series))
    asked: dict[str, list[int]] = {}
    for hour in range(24):
        result = _tick(compaction_schedule, datetime(2026, 11, 23, hour, 0, tzinfo=UTC))
        for request in result if isinstance(result, list) else []:
            asked.setdefault(request.run_key, []).append(hour)
    # us-east's 23:00 is cheaper still, but past the deadline (23:00): 03:00 is its hour.
    assert {k: v[0] for k, v in asked.items()} == {"compact-2026-11-22-eu-central": 14, "compact-2026-11-22-us-east": 3}
    waiting = _tick(compaction_schedule, datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    assert isinstance(waiting, dg.SkipReason)
    assert "us-east at 03:00 UTC (50 gCO2e/kWh)" in str(waiting.skip_message)
    later = _tick(compaction_schedule, datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    assert {r.partition_key for r in later} == {dg.MultiPartitionKey({"date": "2026-11-22", "region": region})
                                                for region in ("eu-central", "us-east")}


def test_with_the_flat_default_compaction_asks_at_midnight_for_every_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIFACTORY_CARBON_INTENSITY", raising=False)
    requests = _tick(compaction_schedule, datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
    assert isinstance(requests, list)
    assert [(r.run_key, r.partition_key) for r in requests] == [
        ("compact-2026-11-22-eu-central", dg.MultiPartitionKey({"date": "2026-11-22", "region": "eu-central"})),
        ("compact-2026-11-22-us-east", dg.MultiPartitionKey({"date": "2026-11-22", "region": "us-east"})),
    ]


def test_the_weekly_reindex_waits_for_the_weekends_cheapest_hour(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    series = tmp_path / "intensity.csv"
    series.write_text("region,start,gco2e_per_kwh\neu-central,2026-11-21T00:00:00Z,300\n"
                      "eu-central,2026-11-22T05:00:00Z,90\neu-central,2026-11-22T06:00:00Z,300\n")
    monkeypatch.setenv("AIFACTORY_CARBON_INTENSITY", str(series))
    saturday = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    ticks = {h: _tick(reindex_schedule, saturday + timedelta(hours=h)) for h in range(0, 60)}
    asked = [h for h, r in ticks.items() if isinstance(r, dg.RunRequest)]
    assert asked[0] == 29  # Sunday 05:00
    assert {r.run_key for r in ticks.values() if isinstance(r, dg.RunRequest)} == {"reindex-2026-W47"}
    assert "Sun 05:00 UTC" in str(ticks[10].skip_message)
    assert "opens on Saturday 2026-11-28" in str(ticks[50].skip_message)  # Monday: the window closed


def test_a_bad_intensity_series_names_itself_and_places_nothing(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    series = tmp_path / "intensity.csv"
    series.write_text("zone,when,value\n")
    monkeypatch.setenv("AIFACTORY_CARBON_INTENSITY", str(series))
    result = _tick(compaction_schedule, datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
    assert isinstance(result, dg.SkipReason)
    assert str(series) in str(result.skip_message) and "region,start,gco2e_per_kwh" in str(result.skip_message)


def test_raw_sensor_run_lands_an_outside_backlog_once(broker: EmbeddedBroker, make_factory: MakeFactory,
                                                      embedder: Embedder, tmp_path: Path) -> None:
    prefix = f"b{uuid.uuid4().hex[:8]}"
    factory = make_factory(tmp_path / "home", prefix=prefix)
    kafka = KafkaResource(bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix)
    settings = kafka.settings()
    topic = RAW_DOCUMENTS.full_name(settings)
    # Another process publishes document events (and one broken message) straight to the raw topic.
    outside = KafkaConnection(settings, broker.bootstrap_servers, "outside")
    outside.ensure_topics()
    for name in ("parental-leave.md", "travel-expenses.md", "on-call-compensation.html"):
        (tmp_path / "corpus").mkdir(exist_ok=True)
        shutil.copy(HR / name, tmp_path / "corpus" / name)
    events = scan(Source(tmp_path / "corpus", "helio-us", "US"), factory.policy, factory.lake,
                  privacy=factory.privacy, secret=factory.pii_secret).published
    assert len(events) == 3
    publish(outside, events, [])
    _produce(broker.bootstrap_servers, topic, 0, 1)  # not a DocumentEvent: it must be dead-lettered

    # The sensor as the deployment defines it (assets/definitions.py), run config and all.
    tick = ticker(defs().resolve_sensor_def("raw_documents_lag_sensor"), kafka)

    first = tick(None)
    [request] = first.run_requests or []
    assert request.run_key and request.run_key.startswith(f"{topic}-")
    assert first.asset_events[0].metadata["consumer_lag"].value >= 1

    # What the sensor asks for scans no sources (none are set for this deployment), and above
    # all not the bundled demo corpus: all the run lands is the backlog.
    assert request.run_config == {"ops": {"raw_lake": {"config": {"sources_file": ""}}}}
    resources = run_resources(home=str(factory.settings.home), bootstrap_servers=broker.bootstrap_servers,
                              topic_prefix=prefix)
    job = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, jobs=[ingest_job], resources=resources,
                         executor=dg.in_process_executor).resolve_job_def(ingest_job.name)
    config = request.run_config

    def run() -> dict[str, dict[str, dg.MetadataValue]]:
        result = job.execute_in_process(run_config=config, tags=request.tags)
        assert result.success
        return {e.materialization.asset_key.to_user_string(): e.materialization.metadata
                for e in result.get_asset_materialization_events()}

    meta = run()
    raw = meta["raw_lake"]
    assert raw["published"].value == 0 and raw["backlog_rows_landed"].value == 3
    assert raw["backlog_dead_lettered"].value == 1 and raw["dead_letters_landed"].value == 1
    consumed = raw["backlog_offsets_consumed"].value
    assert sum(o["to"] - o["from"] for o in consumed.values()) == 4 and set(consumed) == {
        f"{topic}[{p}]" for p in range(settings.partitions)}
    assert {p: c for p, (c, e) in consumer_lag(broker.bootstrap_servers, topic, RAW_DOCUMENTS.group_id(settings))
            .items() if c < e} == {}

    def landed() -> dict[str, int]:
        con = factory.lake.connect(RAW)
        rows = dict(con.execute("SELECT event_id, count(*) FROM raw GROUP BY 1").fetchall())
        con.close()
        return rows

    assert landed() == {e.event_id: 1 for e in events}
    con = factory.lake.connect(DEAD_LETTERS_TABLE)
    # Landing dead-letters the broken message once (the transform agents, reading the topic too, say so as well).
    assert con.execute("SELECT count(*) FROM dead_letters WHERE stage = 'landing'").fetchall() == [(1,)]
    con.close()
    assert meta["vector_index"]["points_upserted"].value > 0
    hits = search(factory.index, embedder, "how many weeks of paid parental leave", tenant="helio-us")
    assert hits and hits[0].document_id in {e.document_id for e in events}
    factory.close()

    # Landed: the next tick asks for nothing, nor does a sensor that lost its cursor.
    assert not tick(first.cursor).run_requests and not tick(None).run_requests
    again = run()["raw_lake"]
    assert again["backlog_rows_landed"].value == again["raw_landed"].value == 0
    assert landed() == {e.event_id: 1 for e in events}
