"""Embedding throughput of the pipeline's embedder (torch and ONNX Runtime backends)
against a plain `SentenceTransformer.encode` over the same texts, with the same
model, in one run.

    python -m benchmarks.embedding --chunks 1500

Texts are chunks cut by the pipeline's own chunker from a generated corpus.
Prints texts/s and tokens/s for each, the ratios to plain encode, and the lowest
cosine between ONNX and torch embeddings of the same text.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.corpus import document
from transforms.chunking import chunk, normalise
from transforms.tokens import token_counter
from vectorstore.embedder import load_embedder


def texts(n: int) -> list[str]:
    rng, counter, out = random.Random(3), token_counter(), []
    doc = 0
    while len(out) < n:
        _, text = document(rng, doc, 2048)
        out += [p.text for p in chunk(normalise(text), counter)]
        doc += 1
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    sample = texts(args.chunks)
    tokens = sum(token_counter().count_many(sample))
    embedder = load_embedder()
    onnx = load_embedder(backend="onnx", onnx_dir=Path(tempfile.mkdtemp(prefix="aifactory-onnx-")))
    plain = embedder.model
    plain.encode(sample[:64])  # warm up
    onnx.embed(sample[:64])
    best: dict[str, float] = {}
    for _ in range(args.rounds):  # alternate, so all see the same machine state
        for name, run in (("plain encode", lambda: plain.encode(sample)),
                          ("pipeline torch", lambda: embedder.embed(sample)),
                          ("pipeline onnx", lambda: onnx.embed(sample))):
            started = time.perf_counter()
            run()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    print(f"{len(sample)} texts, {tokens} tokens, device {embedder.device}")
    for name, seconds in best.items():
        print(f"{name:<18} {seconds:7.1f} s {len(sample) / seconds:8.1f} texts/s {tokens / seconds:9.0f} tokens/s")
    for name in ("pipeline torch", "pipeline onnx"):
        print(f"ratio {name} / plain encode: {best['plain encode'] / best[name]:.2f}")
    cosine = float(np.min(np.sum(embedder.embed(sample[:300]) * onnx.embed(sample[:300]), axis=1)))
    print(f"lowest cosine onnx vs torch over 300 texts: {cosine:.5f}")


if __name__ == "__main__":
    main()
