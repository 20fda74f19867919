"""Settings of the ingest layer: the broker connection, its security, and the topics."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, FilePath, SecretStr, model_validator
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
    # Unset: the cluster's default.replication.factor (and min.insync.replicas) for new topics.
    replication_factor: int | None = Field(default=None, ge=1, validation_alias="AIFACTORY_TOPIC_REPLICATION")
    min_insync_replicas: int | None = Field(default=None, ge=1,
                                            validation_alias="AIFACTORY_TOPIC_MIN_INSYNC_REPLICAS")
    # How the clients reach a cluster: the same for kafka-python and faust (ingest/security.py).
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL")
    ssl_cafile: FilePath | None = Field(default=None, validation_alias="KAFKA_SSL_CAFILE")
    ssl_certfile: FilePath | None = Field(default=None, validation_alias="KAFKA_SSL_CERTFILE")
    ssl_keyfile: FilePath | None = Field(default=None, validation_alias="KAFKA_SSL_KEYFILE")
    ssl_key_password: SecretStr = Field(default=SecretStr(""), validation_alias="KAFKA_SSL_KEY_PASSWORD")
    ssl_check_hostname: bool = Field(default=True, validation_alias="KAFKA_SSL_CHECK_HOSTNAME")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, validation_alias="KAFKA_SASL_MECHANISM")
    sasl_username: str = Field(default="", validation_alias="KAFKA_SASL_USERNAME")
    sasl_password: SecretStr = Field(default=SecretStr(""), validation_alias="KAFKA_SASL_PASSWORD")
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

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        protocol, sasl = self.security_protocol, self.security_protocol.startswith("SASL_")
        tls_files = [n for n, v in (("KAFKA_SSL_CAFILE", self.ssl_cafile), ("KAFKA_SSL_CERTFILE", self.ssl_certfile),
                                    ("KAFKA_SSL_KEYFILE", self.ssl_keyfile)) if v is not None]
        if self.embedded and (protocol != "PLAINTEXT" or tls_files or self.sasl_mechanism):
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} and the KAFKA_SSL_*/KAFKA_SASL_* settings are for "
                             "a cluster: set KAFKA_BOOTSTRAP_SERVERS too (the embedded broker is plaintext on "
                             "127.0.0.1)")
        if sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password.get_secret_value()):
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256 "
                             "or SCRAM-SHA-512), KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if self.sasl_mechanism and not sasl:
            raise ValueError(f"KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL is {protocol}: "
                             "set it to SASL_SSL (or SASL_PLAINTEXT)")
        if tls_files and not protocol.endswith("SSL"):
            raise ValueError(f"{', '.join(tls_files)} set but KAFKA_SECURITY_PROTOCOL is {protocol}: "
                             "set it to SSL or SASL_SSL")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError("KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE, the client certificate it belongs to")
        if self.replication_factor and (self.min_insync_replicas or 0) > self.replication_factor:
            raise ValueError(f"AIFACTORY_TOPIC_MIN_INSYNC_REPLICAS={self.min_insync_replicas} is more than "
                             f"AIFACTORY_TOPIC_REPLICATION={self.replication_factor}: no write could succeed")
        return self

    @property
    def embedded(self) -> bool:
        return not self.bootstrap_servers.strip()

    @property
    def topic_replication(self) -> int:
        """Replicas of a new topic: as set; else 1 on the embedded broker (one node) and
        -1 on a cluster, which asks for its default.replication.factor."""
        if self.replication_factor:
            return self.replication_factor
        return 1 if self.embedded else -1

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
