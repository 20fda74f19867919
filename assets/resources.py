"""Every external system as a ConfigurableResource; heavy clients built once per run."""

import contextlib
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from aifactory.factory import Factory
from aifactory.settings import FactorySettings
from ingest.kafka import KafkaConnection, connect
from ingest.settings import KafkaSettings
from vectorstore.embedder import Embedder, load_embedder


class KafkaResource(dg.ConfigurableResource):
    """The broker. Empty `bootstrap_servers` starts the embedded broker for the run,
    which is why the run must use the in-process executor in embedded mode."""

    bootstrap_servers: str = ""
    topic_prefix: str = "aifactory"
    partitions: int = 4

    _stack: contextlib.ExitStack = PrivateAttr(default_factory=contextlib.ExitStack)
    _conn: KafkaConnection | None = PrivateAttr(default=None)

    def settings(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap_servers,
                             topic_prefix=self.topic_prefix,
                             partitions=self.partitions)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._conn = self._stack.enter_context(connect(self.settings()))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._stack.close()
        self._conn = None

    @property
    def connection(self) -> KafkaConnection:
        if self._conn is None:
            raise dg.DagsterInvariantViolationError("KafkaResource used outside a run")
        return self._conn


class LakeResource(dg.ConfigurableResource):
    """The data directory holding the lake and the embedded index."""

    home: str = ".aifactory"


class EmbedderResource(dg.ConfigurableResource):
    """The embedding model, loaded once per process."""

    model: str = ""
    device: str = ""

    _embedder: Embedder | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._embedder = load_embedder(self.model or None, self.device or None)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.model or None, self.device or None)
        return self._embedder


def factory(lake: LakeResource, kafka: KafkaResource, embedder: EmbedderResource | None = None,
            **overrides: Any) -> Factory:
    settings = FactorySettings(home=Path(lake.home), kafka=kafka.settings(), **overrides)
    return Factory(settings, embedder=embedder.embedder if embedder else None)
