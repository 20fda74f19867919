"""The resources: the product's client for the assets and checks, and the broker for
the lag sensors.

    FactoryResource  the pipeline's Factory for one run (data directory, broker, index,
                     model): built in setup, closed in teardown, its index handles
                     closed after each step; every asset and check calls a stage with it
    KafkaResource    the broker, as the lag sensors read it

The factory's settings are flat fields rather than nested resources: Dagster 1.13
initialises a nested resource through its own deprecated `InitResourceContext.dagster_run`
(a DeprecationWarning per run) and, once nested, a resource no longer follows the
top-level key of the same name (dagster-io/dagster#27223).

Secrets (the Qdrant API key) reach a resource only as `dg.EnvVar`, resolved at launch;
`env_or` decides at load time whether a variable is set, never what it holds.
"""

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from ingest.kafka import KafkaConnection, connect
from ingest.settings import KafkaSettings
from pipeline.factory import Factory
from pipeline.settings import FactorySettings


def home_pool() -> str:
    """The concurrency pool of the data directory this code location serves (AIFACTORY_HOME,
    read at load): every stage asset that writes the home is in it, so an instance with
    `concurrency: pools: default_limit: 1` (deploy/dagster.yaml) runs one such step at a time
    per home, however many runs the sensors and schedules ask for."""
    home = Path(os.environ.get("AIFACTORY_HOME", ".aifactory")).expanduser().resolve()
    name = re.sub(r"[^A-Za-z0-9]+", "_", home.name).strip("_") or "home"
    return f"aifactory_home_{name}_{hashlib.sha256(str(home).encode()).hexdigest()[:8]}"


def env_or(name: str, default: str) -> str:
    """`dg.EnvVar(name)` when the variable is set (its value is read at launch), else `default`.
    An unset EnvVar would fail every launch, and most settings here are optional."""
    return dg.EnvVar(name) if name in os.environ else default


class KafkaResource(dg.ConfigurableResource):
    """The broker the lag sensors watch. Empty `bootstrap_servers` means the embedded
    broker, which lives only inside a run: the sensors then have nothing to watch."""

    bootstrap_servers: str = ""
    topic_prefix: str = "aifactory"
    partitions: int = 0  # 0: AIFACTORY_TOPIC_PARTITIONS, as the CLI reads it

    def settings(self) -> KafkaSettings:
        return kafka_settings(self.bootstrap_servers, self.topic_prefix, self.partitions)


def kafka_settings(bootstrap_servers: str, topic_prefix: str, partitions: int) -> KafkaSettings:
    """The resource's fields over the environment: what is not a field (the partitions when
    0, replication, the security settings) is read from it, as the CLI reads it."""
    fields: dict[str, Any] = {"bootstrap_servers": bootstrap_servers, "topic_prefix": topic_prefix}
    if partitions:
        fields["partitions"] = partitions
    return KafkaSettings(**fields)


class FactoryResource(dg.ConfigurableResource):
    """The pipeline's Factory for one run: every asset and check calls one stage with it
    (`with factory.step() as f: ...`).

    Built in setup (nothing heavy: the model and the index open on first use, once per
    run), closed in teardown with the run's broker connection. Each step closes the
    index handles it opened when it ends, however it ends: Qdrant Edge has one writer
    per shard, and the next step (which may open the index another way), a sensor's run
    or `aifactory serve` must find it free. Nothing waits for the garbage collector,
    which frees a Factory held in a reference cycle only when it next runs.

    `home` is the data directory (lake, governance stores, the embedded index). Empty
    `bootstrap_servers` starts the embedded broker for the run, on first use, which is
    why the run must use the in-process executor in embedded mode. Empty `qdrant_url`
    uses the embedded Qdrant Edge under `home`. The model is the active model of the
    index when there is one (`aifactory reindex` changes it), else `embedding_model`
    (empty: the default), on `embedding_device` (empty: the best there is)."""

    home: str = ".aifactory"
    bootstrap_servers: str = ""
    topic_prefix: str = "aifactory"
    partitions: int = 0  # 0: AIFACTORY_TOPIC_PARTITIONS
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    embedding_model: str = ""
    embedding_device: str = ""

    _factory: Factory | None = PrivateAttr(default=None)
    _stack: contextlib.ExitStack = PrivateAttr(default_factory=contextlib.ExitStack)
    _conn: KafkaConnection | None = PrivateAttr(default=None)

    def settings(self) -> FactorySettings:
        overrides: dict[str, Any] = {}
        if self.qdrant_url:
            overrides |= {"qdrant_url": self.qdrant_url, "qdrant_api_key": self.qdrant_api_key}
        if self.embedding_model:
            overrides["embedding_model"] = self.embedding_model
        if self.embedding_device:
            overrides["embedding_device"] = self.embedding_device
        kafka = kafka_settings(self.bootstrap_servers, self.topic_prefix, self.partitions)
        return FactorySettings(home=Path(self.home), kafka=kafka, **overrides)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._factory = Factory(self.settings())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        try:
            if self._factory is not None:
                self._factory.close()
        finally:
            self._factory, self._conn = None, None
            self._stack.close()

    @contextlib.contextmanager
    def step(self) -> Iterator[Factory]:
        """The run's factory for one step; its index handles are closed when the step ends."""
        if self._factory is None:
            # A misuse of the resource, not a state of the data: no factory error family for it.
            raise RuntimeError("the factory resource is not set up: use it in a Dagster run, or in "
                               "dg.build_resources(...)")
        try:
            yield self._factory
        finally:
            self._factory.close()

    @property
    def connection(self) -> KafkaConnection:
        """Connected (or the embedded broker started) on first use, closed after the run."""
        if self._conn is None:
            assert self._factory is not None, "set up in setup_for_execution"
            s = self._factory.settings
            self._conn = self._stack.enter_context(connect(s.kafka, broker_log=str(s.log_dir / "broker.log")))
        return self._conn


def run_resources(*, home: str, bootstrap_servers: str = "", topic_prefix: str = "aifactory",
                  qdrant_url: str = "", qdrant_api_key: str = "") -> dict[str, dg.ConfigurableResource]:
    """The resources by key: `factory` for the assets and checks, `kafka` (the same
    broker) for the lag sensors."""
    return {
        "factory": FactoryResource(home=home, bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix,
                                   qdrant_url=qdrant_url, qdrant_api_key=qdrant_api_key),
        "kafka": KafkaResource(bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix),
    }
