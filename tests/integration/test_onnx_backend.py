"""The ONNX Runtime backend gives the embeddings torch gives, and the pipeline can run on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vectorstore.embedder import Embedder, EmbedderError, load_embedder

pytestmark = pytest.mark.integration

TEXTS = ["How long does the Atlas take to charge?", "Parental leave is 16 weeks.", "x",
         "word " * 400, "Fehlercode E-305: Lidar blockiert. Bitte reinigen."]


def test_onnx_embeddings_equal_torch_within_cosine(tmp_path: Path, embedder: Embedder) -> None:
    onnx = load_embedder(backend="onnx", onnx_dir=tmp_path)
    assert onnx.backend == "onnx" and onnx.fingerprint == embedder.fingerprint
    assert (tmp_path / f"{onnx.fingerprint.id}.onnx").exists()  # exported once, into the data directory
    a, b = embedder.embed(TEXTS), onnx.embed(TEXTS)
    assert a.shape == b.shape
    assert float(np.min(np.sum(a * b, axis=1))) > 0.999
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(EmbedderError, match="unknown embedding backend 'tensorrt'"):
        Embedder(backend="tensorrt")
