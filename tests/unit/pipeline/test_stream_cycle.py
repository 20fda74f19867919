"""A stream that is dropped frees its factory at once: the index a factory holds open
(one writer per Qdrant Edge shard) must not wait for the garbage collector."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.kafka import KafkaConnection
from ingest.settings import KafkaSettings
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from pipeline.stream import Stream


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("transform", [True, False])
def test_a_dropped_stream_and_its_factory_are_freed_without_a_collection(tmp_path: Path, no_gc: None,
                                                                         transform: bool) -> None:
    factory = Factory(FactorySettings(home=tmp_path / "home"))
    stream = Stream(factory, KafkaConnection(KafkaSettings(), "localhost:1", "e"), land_raw=True,
                    transform=transform, run_id="run-1")
    stream.run_id = "run-2"  # resident mode moves it each cycle; the landers meter under the new one
    assert stream.run_id == "run-2"
    freed = weakref.ref(factory)
    del stream, factory
    assert freed() is None
