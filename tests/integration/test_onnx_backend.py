"""The ONNX Runtime backend gives the embeddings torch gives, and the pipeline can run on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vectorstore.embedder import Embedder, EmbedderError, load_embedder
from vectorstore.onnx_backend import OnnxEncoder, export, int8_path

pytestmark = pytest.mark.integration

TEXTS = ["How long does the Atlas take to charge?", "Parental leave is 16 weeks.", "x",
         "word " * 400, "Fehlercode E-305: Lidar blockiert. Bitte reinigen.",
         "The robot returns to its dock when the battery falls below twenty percent. " * 4]


def test_onnx_embeddings_equal_torch_within_cosine(tmp_path: Path, embedder: Embedder) -> None:
    onnx = load_embedder(backend="onnx", onnx_dir=tmp_path)
    assert onnx.backend == "onnx" and onnx.fingerprint == embedder.fingerprint
    fused = tmp_path / f"{onnx.fingerprint.id}.fused.onnx"
    assert fused.exists() and int8_path(fused).exists()  # exported once, into the data directory
    a, b = embedder.embed(TEXTS), onnx.embed(TEXTS)
    assert a.shape == b.shape
    assert float(np.min(np.sum(a * b, axis=1))) > 0.999
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)

    stamp = fused.stat().st_mtime_ns
    assert export(Path(onnx.model_path), fused) == fused and fused.stat().st_mtime_ns == stamp  # reused

    # Short texts run in fp32 even when int8 is on: the same vector as the fp32-only encoder.
    fp32 = OnnxEncoder(fused, Path(onnx.model_path), workers=1)
    assert np.array_equal(onnx.embed(["x", "Parental leave."]), fp32.encode(["x", "Parental leave."], 1024))


def test_pipeline_torch_equals_plain_encode_in_input_order(embedder: Embedder) -> None:
    texts = TEXTS + [f"note {i}: " + "shelf aisle " * (i % 37) for i in range(60)]
    plain = embedder.model.encode(texts, convert_to_numpy=True).astype(np.float32)
    plain /= np.linalg.norm(plain, axis=1, keepdims=True)  # in fp32: a bf16 model's own normalisation is coarse
    ours = embedder.embed(texts)
    assert ours.shape == plain.shape
    assert float(np.min(np.sum(ours * plain, axis=1))) > 0.9999


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(EmbedderError, match="unknown embedding backend 'tensorrt'"):
        Embedder(backend="tensorrt")
