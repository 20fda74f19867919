"""Kafka topics as external assets, and a sensor per topic that reads consumer lag.

Each topic is landed into the lake by a consumer group (`<prefix>-land-<table>`); its
lag per partition is the topic's end offset minus the group's committed offset. The
sensor keeps the end offsets it has acted on in its cursor, as JSON
`{"<partition>": <end offset>}`, and asks for a run only when a partition moved past
them and the group lags; the run key names the offset ranges
(`<topic>-<partition>-<start>-<end>`), so a restarted sensor asks for the same runs
again and Dagster drops the repeats. (The embedded broker, Tansu, can report an end
offset short of the last record; the lag is then low but movement still shows.)
"""


import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg
from kafka.errors import KafkaError

from assets.resources import KafkaResource
from ingest.security import client_options
from ingest.settings import KafkaSettings
from pipeline.backlog import consumer_lag

OWNER = "team:data-platform"
SENSOR_INTERVAL_S = 60


@dataclass(frozen=True)
class Topic:
    name: str  # the topic's name after the prefix
    group: str  # the consumer group that lands it, after the prefix
    table: str  # the lake table it lands in
    description: str

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(["kafka", self.name.replace("-", "_")])

    def full_name(self, settings: KafkaSettings) -> str:
        return settings.topic(self.name)

    def group_id(self, settings: KafkaSettings) -> str:
        return f"{settings.topic_prefix}-{self.group}"


TOPICS = (
    Topic("raw-documents", "land-raw", "raw",
          "Document events (upserts and deletes), keyed by document id so each document keeps its order. "
          "Published by `aifactory ingest`, webhooks, other producers and the raw_lake asset; landed into "
          "raw_lake. Lag here means events not yet durable in the lake: materialising raw_lake lands the "
          "backlog (its sensor asks for ingest_job)."),
    Topic("chunks", "land-chunks", "chunks",
          "Chunks made by the faust transform agents (extract, normalise, redact, screen, chunk, tag). "
          "Landed into chunks_lake; lag means chunks not yet searchable: materialise chunks_lake."),
    Topic("dead-letters", "land-dead-letters", "dead_letters",
          "Input that failed a stage, with the reason a person can act on. Landed into dead_letters_lake; "
          "read the reasons there (`aifactory dlq list`), fix the source, then `aifactory dlq replay`."),
)

topic_specs = [
    dg.AssetSpec(
        key=t.key, description=t.description, group_name="stream", kinds={"kafka"}, owners=[OWNER],
        metadata={"topic": f"<prefix>.{t.name}", "consumer_group": f"<prefix>-{t.group}",
                  "lake_table": t.table,
                  "residency": "every event carries its tenant, jurisdiction and target region; sinks refuse "
                               "regions the residency policy does not allow"},
    )
    for t in TOPICS
]


def lag_sensor(topic: Topic, job_name: str,
               run_config: Callable[[], dict[str, Any]] | None = None) -> dg.SensorDefinition:
    """A sensor that records the lag of `topic` on its asset and asks for `job` when
    new offsets are waiting for the topic's landing group (`job_name` must be in the Definitions).
    Each run request carries `run_config()`, read at the tick: what the run is to do besides."""

    @dg.sensor(name=f"{topic.name.replace('-', '_')}_lag_sensor", job_name=job_name,
               minimum_interval_seconds=SENSOR_INTERVAL_S,
               description=f"Reads the consumer lag of group `<prefix>-{topic.group}` on topic `<prefix>.{topic.name}` "
                           f"and asks for a {job_name} run when it grows. Cursor: end offsets per partition. "
                           "Idle in embedded mode (set KAFKA_BOOTSTRAP_SERVERS to watch a cluster).")
    def _sensor(context: dg.SensorEvaluationContext, kafka: KafkaResource) -> dg.SensorResult | dg.SkipReason:
        settings = kafka.settings()
        if settings.embedded:
            return dg.SkipReason("embedded broker: it lives only inside a run, so there is no standing topic to "
                                 "watch; set KAFKA_BOOTSTRAP_SERVERS to a cluster")
        name = topic.full_name(settings)
        try:
            lag = consumer_lag(settings.bootstrap_servers, name, topic.group_id(settings), **client_options(settings))
        except KafkaError as exc:
            return dg.SkipReason(f"cannot read the lag of {name} at {settings.bootstrap_servers}: {exc}")
        seen = {int(p): int(o) for p, o in json.loads(context.cursor or "{}").items()}
        moved = {p: (seen.get(p, committed), end) for p, (committed, end) in lag.items()
                 if end > seen.get(p, committed) and end > committed}
        total = sum(max(end - committed, 0) for committed, end in lag.values())
        observation = dg.AssetObservation(asset_key=topic.key, metadata={
            "consumer_lag": total,
            "partitions": dg.MetadataValue.json({str(p): {"committed": c, "end": e, "lag": max(e - c, 0)}
                                                 for p, (c, e) in sorted(lag.items())}),
        })
        cursor = json.dumps({str(p): max(seen.get(p, 0), end) for p, (_, end) in sorted(lag.items())})
        if not moved:
            return dg.SensorResult(skip_reason=f"{name}: lag {total}, nothing new since the last tick",
                                   asset_events=[observation], cursor=cursor)
        run_key = "_".join(f"{name}-{p}-{start}-{end}" for p, (start, end) in sorted(moved.items()))
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key, run_config=run_config() if run_config else {},
                                        tags={"aifactory/topic": name, "aifactory/lag": str(total)})],
            asset_events=[observation], cursor=cursor)

    return _sensor
