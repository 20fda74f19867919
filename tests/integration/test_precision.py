"""The torch path in a lowered format (bf16 on a CPU that has it) gives fp32's embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vectorstore import embedder as embedder_module
from vectorstore.embedder import Embedder, EmbedderError, load_embedder
from vectorstore.precision import cpu_flags, wanted

pytestmark = pytest.mark.integration

TEXTS = ["How long does the Atlas take to charge?", "x", "word " * 400,
         "Fehlercode E-305: Lidar blockiert. Bitte reinigen.",
         *(f"note {i}: " + "shelf aisle pallet route " * (i % 23) for i in range(40))]


def test_the_configured_format_embeds_as_fp32_does(embedder: Embedder) -> None:
    # The session's embedder runs as configured by default ("auto").
    assert embedder.precision == wanted("auto", cuda=embedder.cuda, flags=cpu_flags())
    fp32 = load_embedder(precision="fp32")
    assert fp32.precision == "fp32" and fp32.fingerprint == embedder.fingerprint
    a, b = fp32.embed(TEXTS), embedder.embed(TEXTS)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.999
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)


def test_a_format_that_misses_the_probes_falls_back_to_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = Embedder(precision="fp32", pack=False).embed(TEXTS)
    monkeypatch.setattr(embedder_module, "MIN_COSINE", 1.5)  # no lowered format, nor packing, can reach it
    monkeypatch.setattr(embedder_module, "wanted", lambda requested, cuda: "bf16")
    fallen = Embedder()
    assert fallen.precision == "fp32" and not fallen.packed
    assert np.array_equal(fallen.embed(TEXTS), reference)


def test_an_unknown_precision_is_a_clear_error() -> None:
    with pytest.raises(EmbedderError, match=r"unknown embedding precision 'int4'.*AIFACTORY_EMBEDDING_PRECISION"):
        Embedder(precision="int4")


def test_a_text_embeds_alike_alone_and_in_a_padded_batch(embedder: Embedder) -> None:
    # Widths are padded to a few shapes (vectorstore/batching.py); the mask must hide the padding.
    batched = embedder.embed(TEXTS)
    alone = np.stack([embedder.embed([text])[0] for text in TEXTS])
    assert float(np.min(np.sum(batched * alone, axis=1))) > (0.99999 if embedder.precision == "fp32" else 0.9999)


def test_packed_layers_embed_as_the_unpacked_model_does(embedder: Embedder) -> None:
    # On a CPU the torch path packs its linear layers for oneDNN (vectorstore/packed.py).
    assert bool(embedder.packed) == (not embedder.cuda and torch.backends.mkldnn.is_available())
    unpacked = Embedder(precision=embedder.precision, pack=False)
    assert not unpacked.packed
    for texts in (TEXTS, TEXTS[:1], TEXTS[3:4]):  # batches of several texts and of one
        a, b = unpacked.embed(texts), embedder.embed(texts)
        assert float(np.min(np.sum(a * b, axis=1))) > (0.99999 if embedder.precision == "fp32" else 0.9999)
