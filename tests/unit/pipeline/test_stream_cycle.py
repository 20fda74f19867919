"""A stream that is dropped frees its factory at once: the index a factory holds open
(one writer per Qdrant Edge shard) must not wait for the garbage collector. A run's
stream seeds only the outcomes it expects."""

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
from pipeline.stream import Expected, Outcomes, Stream
from tests.unit.transforms.test_chunk_table import filled


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


def test_a_run_reads_from_the_lake_only_the_outcomes_it_expects(tmp_path: Path, lake_reads: list[str]) -> None:
    """A run's new events have new ids: nothing of them is in the lake yet. Only the events
    it sends again (half landed before a crash) are seeded, and a run that resumes nothing
    opens no lake file for its outcomes (the whole chunk table, at any corpus size, before)."""
    lake = filled(tmp_path)
    resumed = Outcomes(lake, Expected({"ev-acme-a.md-2"}, set()))
    assert dict(resumed.chunks) == {"ev-acme-a.md-2": 1} and resumed.done == set()
    resumed.update([{"event_id": "ev-acme-a.md-2", "chunk_count": 2, "op": "upsert"}], [])
    assert resumed.done == {"ev-acme-a.md-2"}  # its second chunk completes it
    lake_reads.clear()
    fresh = Outcomes(lake, Expected(set(), set()))
    assert lake_reads == [] and not fresh.chunks and not fresh.done and not fresh.letters
    everything = Outcomes(lake)  # a resident follower's, seeded once
    assert "ev-acme-a.md-1" in everything.done and everything.chunks["ev-acme-a.md-2"] == 1
