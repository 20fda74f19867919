"""Every external system as a ConfigurableResource; heavy clients built once per run.

    KafkaResource     the broker (a cluster, or the embedded one started for the run)
    LakeResource      the data directory: Parquet lake, governance stores
    IndexResource     the vector index: embedded Qdrant Edge, or a Qdrant server
    EmbedderResource  the embedding model

Secrets (the Qdrant API key) reach a resource only as `dg.EnvVar`, resolved at launch;
`env_or` decides at load time whether a variable is set, never what it holds.
"""

import contextlib
import os
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from ingest.kafka import KafkaConnection, connect
from ingest.settings import KafkaSettings
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from vectorstore.embedder import Embedder, load_embedder


def env_or(name: str, default: str) -> str:
    """`dg.EnvVar(name)` when the variable is set (its value is read at launch), else `default`.
    An unset EnvVar would fail every launch, and most settings here are optional."""
    return dg.EnvVar(name) if name in os.environ else default


class KafkaResource(dg.ConfigurableResource):
    """The broker. Empty `bootstrap_servers` starts the embedded broker for the run (on
    first use), which is why the run must use the in-process executor in embedded mode."""

    bootstrap_servers: str = ""
    topic_prefix: str = "aifactory"
    partitions: int = 4

    _stack: contextlib.ExitStack = PrivateAttr(default_factory=contextlib.ExitStack)
    _conn: KafkaConnection | None = PrivateAttr(default=None)

    def settings(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap_servers,
                             topic_prefix=self.topic_prefix,
                             partitions=self.partitions)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._stack.close()
        self._conn = None

    @property
    def connection(self) -> KafkaConnection:
        """Connected (or the embedded broker started) on first use, closed after the run."""
        if self._conn is None:
            self._conn = self._stack.enter_context(connect(self.settings()))
        return self._conn


class LakeResource(dg.ConfigurableResource):
    """The data directory holding the lake, the governance stores and the embedded index."""

    home: str = ".aifactory"

    @property
    def root(self) -> Path:
        return Path(self.home)


class IndexResource(dg.ConfigurableResource):
    """The vector index: empty `url` uses the embedded Qdrant Edge under the data
    directory; a URL points at a Qdrant server or cluster (`QDRANT_URL`, `QDRANT_API_KEY`)."""

    url: str = ""
    api_key: str = ""


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


def factory(lake: LakeResource, kafka: KafkaResource | None = None, embedder: EmbedderResource | None = None,
            index: IndexResource | None = None, **overrides: Any) -> Factory:
    """The composition root of the product, built from the run's resources. Without
    `kafka`, the broker settings are defaults: fine for anything that reads only the lake."""
    if index is not None and index.url:
        overrides = {"qdrant_url": index.url, "qdrant_api_key": index.api_key, **overrides}
    settings = FactorySettings(home=Path(lake.home), kafka=(kafka or KafkaResource()).settings(), **overrides)
    return Factory(settings, embedder=embedder.embedder if embedder else None)
