"""The factory resource is a client that leaves nothing open: its Factory lives for
the run, and each step closes the index handles it opened when it ends, however it
ends, so the next step, a sensor's run or `aifactory serve` finds the shard free."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import dagster as dg
import pytest

from assets.resources import FactoryResource
from governance.contracts import DocumentEvent, LogPosition
from ingest.lake import Lake
from ingest.tables import RAW, raw_row
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from pipeline.status import status
from vectorstore.edge import EdgeIndex
from vectorstore.index import IndexPoint
from vectorstore.owner import owner

REGION = "eu-central"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A data directory with one document in the raw lake and one point in the index."""
    settings = FactorySettings(home=tmp_path / "home")
    index = EdgeIndex(settings.index_root, model_id="m", dimension=4)
    index.upsert(REGION, [IndexPoint(str(uuid.uuid4()), [1.0, 0.0, 0.0, 0.0], {"tenant": "t1"})])
    index.close()
    (settings.index_root / "active-model.json").write_text(json.dumps({"id": "m", "dimension": 4, "model": ""}))
    event = DocumentEvent.new(op="upsert", tenant="t1", document_id="t1:a.md", version=1, text="text",
                              jurisdiction="EU", region=REGION, source_uri="", source_root="")
    Lake(settings.lake_root).write(RAW, [raw_row(event, LogPosition(epoch="e", topic="raw", partition=0, offset=0))])
    return settings.home


def resource(home: Path) -> FactoryResource:
    return FactoryResource(home=str(home))


def index_owner(home: Path) -> int | None:
    """The pid that holds the embedded index open (and serves it to other processes)."""
    card = owner(home / "index")
    return card.pid if card else None


def points_seen_by_another_opener(home: Path) -> int:
    f = Factory(FactorySettings(home=home))
    try:
        index = f.index_without_model()
        assert index is not None
        return sum(index.count(r) for r in index.regions())
    finally:
        f.close()


def test_a_step_closes_the_index_it_opened(home: Path) -> None:
    with dg.build_resources({"factory": resource(home)}) as built:
        with built.factory.step() as f:
            assert status(f)["totals"]["points"] == 1  # opens the shard
            assert index_owner(home) == os.getpid()
        # The run's Factory lives on (until teardown), its shard does not: no process owns it.
        assert index_owner(home) is None
        assert points_seen_by_another_opener(home) == 1
        with built.factory.step() as f:  # the next step opens it again
            assert status(f)["totals"]["points"] == 1
    assert points_seen_by_another_opener(home) == 1


def test_a_failed_step_closes_the_index_too(home: Path) -> None:
    with dg.build_resources({"factory": resource(home)}) as built:
        with pytest.raises(RuntimeError, match="stage failed"), built.factory.step() as f:
            status(f)
            raise RuntimeError("stage failed")
        assert points_seen_by_another_opener(home) == 1


def test_the_resource_is_only_a_client_inside_a_run(home: Path) -> None:
    with pytest.raises(RuntimeError, match="not set up"), resource(home).step():
        pass
