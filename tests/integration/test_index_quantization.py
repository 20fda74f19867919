"""AIFACTORY_INDEX_QUANTIZATION=int8: new collections keep int8 vectors in RAM and are
searched with rescoring on the float vectors, so a search returns what the unquantised
index returns, in the same order and with the same scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from vectorstore.edge import EdgeIndex
from vectorstore.index import IndexPoint, Query, VectorIndex
from vectorstore.owner import HomeIndex

pytestmark = pytest.mark.integration

DIM = 32
REGION = "eu-central"


def fill(index: VectorIndex, vectors: np.ndarray) -> None:
    index.upsert(REGION, [IndexPoint(str(uuid.UUID(int=i + 1)), v.tolist(), {"tenant": f"t{i % 2}",
                                                                               "document_id": f"d{i}"})
                          for i, v in enumerate(vectors)])


def ranked(index: VectorIndex, queries: np.ndarray) -> list[list[tuple[str, float]]]:
    return [[(h.id, h.score) for h in index.search(REGION, Query(dense=q.tolist(), tenant=f"t{n % 2}", top_k=10,
                                                                  mode="dense"))]
            for n, q in enumerate(queries)]


def test_an_int8_shard_ranks_as_the_float_one(tmp_path: Path) -> None:
    """On Qdrant Edge. (qdrant-client's local mode, the suite's stand-in for a server, keeps no
    quantisation and searches exactly, so the server adapter's int8 is not proven here.)"""
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(600, DIM)).astype(np.float32)
    queries = rng.normal(size=(20, DIM)).astype(np.float32)
    built: dict[str, VectorIndex] = {}
    for kind in ("none", "int8"):
        built[kind] = EdgeIndex(tmp_path / kind, model_id="m-1", dimension=DIM, quantization=kind)
        fill(built[kind], vectors)
    try:
        plain, int8 = ranked(built["none"], queries), ranked(built["int8"], queries)
        assert [[i for i, _ in r] for r in int8] == [[i for i, _ in r] for r in plain]
        assert np.allclose([s for r in int8 for _, s in r], [s for r in plain for _, s in r], atol=1e-5)
        config = json.loads(next((tmp_path / "int8").glob("*/edge_config.json")).read_text())
        assert config["vectors"]["dense"]["quantization_config"]["scalar"]["type"] == "int8"
        assert not json.loads(next((tmp_path / "none").glob("*/edge_config.json")).read_text()
                              )["vectors"]["dense"].get("quantization_config")
    finally:
        for index in built.values():
            index.close()


def test_the_setting_reaches_the_embedded_index_and_a_bad_value_is_refused(tmp_path: Path) -> None:
    factory = Factory(FactorySettings(home=tmp_path / "home", index_quantization="int8"))
    index = factory.open_index("m-1", DIM)
    try:
        assert isinstance(index, HomeIndex) and index.quantization == "int8"
        fill(index, np.random.default_rng(1).normal(size=(20, DIM)).astype(np.float32))
        config = json.loads(next((tmp_path / "home").rglob("edge_config.json")).read_text())
        assert config["vectors"]["dense"]["quantization_config"]
    finally:
        index.close()
        factory.close()
    (tmp_path / "other").mkdir()
    env = {**os.environ, "AIFACTORY_HOME": str(tmp_path / "other"), "AIFACTORY_INDEX_QUANTIZATION": "int4"}
    done = subprocess.run([sys.executable, "-m", "aifactory.cli", "status"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert "Traceback" not in done.stderr
    assert "AIFACTORY_INDEX_QUANTIZATION='int4': Input should be 'none' or 'int8'" in done.stderr, done.stderr
