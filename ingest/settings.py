"""Settings of the ingest layer: the broker connection and topic names."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Heartbeats go out four times a session from the worker's consumer thread, which the
# chunker's CPU work does not hold up; 2 s held through full runs on 2 loaded cores.
EMBEDDED_WORKER_SESSION_MS = 2_000


class KafkaSettings(BaseSettings):
    """`KAFKA_BOOTSTRAP_SERVERS` points at a real cluster; left empty, the embedded
    broker is started for the duration of the command."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    bootstrap_servers: str = Field(default="", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    topic_prefix: str = Field(default="aifactory", validation_alias="AIFACTORY_TOPIC_PREFIX")
    partitions: int = Field(default=4, ge=1, validation_alias="AIFACTORY_TOPIC_PARTITIONS")
    replication_factor: int = Field(default=1, ge=1, validation_alias="AIFACTORY_TOPIC_REPLICATION")
    # The largest record the factory produces, and the topics' max.message.bytes: a document
    # the limits allow (5 M characters, JSON-escaped) must fit one record, whatever its size.
    max_message_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024,
                                   validation_alias="AIFACTORY_MAX_MESSAGE_BYTES")
    # Tansu answers a rejoin only after about half the session timeout: keep it short.
    session_timeout_ms: int = 10_000
    # The faust worker's consumer-group session, the one group join a run waits for.
    # Tansu answers a join after half the session timeout, rounded up to a whole second
    # (measured: 10 s -> 5 s, 3 s -> 2 s, 2 s -> 1 s), so on the embedded broker it is
    # EMBEDDED_WORKER_SESSION_MS; a Kafka cluster refuses one shorter than its
    # group.min.session.timeout.ms (6 s by default), so there it is `session_timeout_ms`.
    worker_session_timeout_ms: int | None = Field(default=None, ge=1000,
                                                  validation_alias="AIFACTORY_WORKER_SESSION_TIMEOUT_MS")
    # How long a long-lived consumer's fetch may wait for data (faust's worker, the services).
    # Kafka answers as soon as a record arrives; Tansu answers an aiokafka fetch only when
    # the wait runs out (measured: faust's fixed 1,500 ms -> 0.62 s per event, 50 ms -> 0.01 s).
    fetch_max_wait_ms: int = Field(default=50, ge=1, le=5_000, validation_alias="AIFACTORY_FETCH_MAX_WAIT_MS")

    @property
    def embedded(self) -> bool:
        return not self.bootstrap_servers.strip()

    @property
    def worker_session_ms(self) -> int:
        """The faust worker's session timeout: as set, else by the kind of broker."""
        if self.worker_session_timeout_ms is not None:
            return self.worker_session_timeout_ms
        return EMBEDDED_WORKER_SESSION_MS if self.embedded else self.session_timeout_ms

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    @property
    def raw_topic(self) -> str:
        return self.topic("raw-documents")

    @property
    def chunks_topic(self) -> str:
        return self.topic("chunks")

    @property
    def dead_letter_topic(self) -> str:
        return self.topic("dead-letters")
