"""Shared fixtures: one broker and one model per session, a clean environment per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.broker import EmbeddedBroker
from ingest.settings import EMBEDDED_WORKER_SESSION_MS, KafkaSettings
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from vectorstore.embedder import Embedder, load_embedder

PROJECT_ENV = ("AIFACTORY_", "KAFKA_", "QDRANT_")


@pytest.fixture(autouse=True)
def clean_environ() -> Iterator[None]:
    """Tests build their settings explicitly; nothing leaks in from the shell."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(PROJECT_ENV):
            del os.environ[key]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A real Kafka-protocol broker (Tansu) on loopback, for the whole session."""
    with EmbeddedBroker(tmp_path_factory.mktemp("broker") / "broker.log") as b:
        yield b


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real offline MiniLM model, loaded once."""
    return load_embedder()


@pytest.fixture
def kafka_settings(broker: EmbeddedBroker) -> KafkaSettings:
    """Settings for the session broker, with topics of their own for this test."""
    return KafkaSettings(bootstrap_servers=broker.bootstrap_servers,
                         topic_prefix=f"t{uuid.uuid4().hex[:10]}",
                         worker_session_timeout_ms=EMBEDDED_WORKER_SESSION_MS)


MakeFactory = Callable[..., Factory]


@pytest.fixture
def make_factory(broker: EmbeddedBroker, embedder: Embedder) -> MakeFactory:
    def make(home: Path, *, prefix: str | None = None, **settings: object) -> Factory:
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers,
                              topic_prefix=prefix or f"t{uuid.uuid4().hex[:10]}",
                              worker_session_timeout_ms=EMBEDDED_WORKER_SESSION_MS)
        return Factory(FactorySettings(home=home, kafka=kafka, stage_timeout_s=180, **settings),
                       embedder=embedder)

    return make


@pytest.fixture
def dagster_instance() -> Iterator[Any]:
    """A Dagster instance disposed after the test: an ephemeral one left to the garbage
    collector warns (an error here) about its temporary folder at a random later test."""
    import dagster as dg  # only the tests that ask for it pay for the import

    with dg.instance_for_test() as instance:
        yield instance
