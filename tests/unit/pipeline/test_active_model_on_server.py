"""On Qdrant servers the active model is kept on the servers, so API nodes with homes of
their own agree on it across a reindex. qdrant-client's in-memory mode stands in for the
server (no Qdrant server binary can be had here); both nodes share that one client."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from qdrant_client import QdrantClient

from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from vectorstore.qdrant import QdrantIndex


class Shared(QdrantIndex):
    def close(self) -> None:  # the "server" outlives each node's handle
        pass


def model(name: str, dimension: int) -> Any:
    return SimpleNamespace(fingerprint=SimpleNamespace(id=f"{name}-0123456789", dimension=dimension),
                           model_path=f"/models/{name}")


@pytest.fixture
def nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Factory, Factory]:
    server = QdrantClient(location=":memory:")
    monkeypatch.setattr(Factory, "open_index", lambda self, model_id, dimension: Shared(
        server, model_id=model_id, dimension=dimension))
    made = tuple(Factory(FactorySettings(home=tmp_path / name, qdrant_url="http://qdrant.example:6333"))
                 for name in ("node-a", "node-b"))
    return made[0], made[1]


def test_nodes_with_their_own_homes_agree_on_the_active_model_across_a_switch(
        nodes: tuple[Factory, Factory]) -> None:
    a, b = nodes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert b.active_model() is None
        a.activate(model("minilm", 384))
        assert b.active_model() is not None and b.active_model()["id"] == "minilm-0123456789"  # type: ignore[index]
        a.activate(model("bigger", 768))  # what `aifactory reindex` does after the alias swap
        seen = b.active_model()
    assert seen is not None and (seen["id"], seen["dimension"], seen["model"]) == \
        ("bigger-0123456789", 768, "/models/bigger")
    assert not (b.settings.index_root / "active-model.json").exists()  # B read it off the server
