"""Settings of the ingest layer: the broker connection and topic names."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """`KAFKA_BOOTSTRAP_SERVERS` points at a real cluster; left empty, the embedded
    broker is started for the duration of the command."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    bootstrap_servers: str = Field(default="", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    topic_prefix: str = Field(default="aifactory", validation_alias="AIFACTORY_TOPIC_PREFIX")
    partitions: int = Field(default=4, ge=1, validation_alias="AIFACTORY_TOPIC_PARTITIONS")
    replication_factor: int = Field(default=1, ge=1, validation_alias="AIFACTORY_TOPIC_REPLICATION")
    # Tansu answers a rejoin only after about half the session timeout: keep it short.
    session_timeout_ms: int = 10_000

    @property
    def embedded(self) -> bool:
        return not self.bootstrap_servers.strip()

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
