"""Embedding throughput of the pipeline's embedder (torch and ONNX Runtime backends)
against a plain `SentenceTransformer.encode` (default settings) over the same texts,
with the same model, in one run.

    python -m benchmarks.embedding --chunks 1200

Texts are chunks cut by the pipeline's own chunker from a generated corpus. The
contenders run in turn, `--rounds` times, and the median of each is reported, so all
see the same machine state. The pipeline's torch path runs as configured by default
(bf16 on a CPU with native bf16, fp16 on a GPU; see vectorstore/precision.py; on a CPU
with linear layers packed for oneDNN, vectorstore/packed.py), on a CPU also unpacked and
in fp32. Prints texts/s and tokens/s for each, the ratios to plain encode,
and each contender's lowest cosine to plain encode over all texts. On a GPU it also
prints the best plain encode found (fp16, best of a few batch sizes) and the
pipeline's peak GPU memory; the ONNX backend is CPU-only and is skipped there.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.corpus import document
from transforms.chunking import chunk, normalise
from transforms.tokens import token_counter
from vectorstore.embedder import Embedder, default_model_path, load_embedder

GPU_BATCH_SIZES = (32, 64, 128, 256, 512)


def texts(n: int) -> list[str]:
    rng, counter, out = random.Random(3), token_counter(default_model_path()), list[str]()
    doc = 0
    while len(out) < n:
        _, text = document(rng, doc, 2048)
        out += [p.text for p in chunk(normalise(text), counter)]
        doc += 1
    return out[:n]


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def plain_model(embedder: Embedder, *, half: bool = False) -> Any:
    """A fresh SentenceTransformer as a user would load it (the embedder's own may be fp16)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(embedder.model_path, device=embedder.device, local_files_only=True)
    return model.half() if half else model


def best_gpu_encode(embedder: Embedder, sample: list[str]) -> tuple[str, float]:
    """Plain encode tuned by hand: fp16, and the fastest of a few batch sizes (one pass each)."""
    model = plain_model(embedder, half=True)
    model.encode(sample[:256], batch_size=64)
    seconds, size = min((timed(partial(model.encode, sample, batch_size=b))[0], b) for b in GPU_BATCH_SIZES)
    return f"plain fp16 bs={size}", seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=1200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sample = texts(args.chunks)
    tokens = sum(token_counter(default_model_path()).count_many(sample))
    embedder = load_embedder()
    cuda = embedder.device.startswith("cuda")
    plain = plain_model(embedder)
    peak = 0

    def pipeline_torch() -> Any:
        nonlocal peak
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        out = embedder.embed(sample)
        if cuda:
            peak = max(peak, torch.cuda.max_memory_allocated())
        return out

    contenders: dict[str, Callable[[], Any]] = {
        "plain encode": lambda: plain.encode(sample),
        "pipeline torch": pipeline_torch,
    }
    if embedder.packed:
        unpacked = Embedder(precision=embedder.precision, pack=False)
        contenders["pipeline torch unpacked"] = lambda: unpacked.embed(sample)
        unpacked.embed(sample[:64])
    if not cuda and embedder.precision != "fp32":
        fp32 = load_embedder(precision="fp32")
        contenders["pipeline torch fp32"] = lambda: fp32.embed(sample)
        fp32.embed(sample[:64])
    if not cuda:
        onnx = load_embedder(backend="onnx", onnx_dir=Path(tempfile.mkdtemp(prefix="aifactory-onnx-")))
        contenders["pipeline onnx"] = lambda: onnx.embed(sample)
        onnx.embed(sample[:64])
    plain.encode(sample[:64])  # warm up
    embedder.embed(sample[:64])
    rounds: dict[str, list[float]] = {name: [] for name in contenders}
    vectors: dict[str, Any] = {}
    for _ in range(args.rounds):
        for name, run in contenders.items():
            seconds, vectors[name] = timed(run)
            rounds[name].append(seconds)
    median = {name: statistics.median(times) for name, times in rounds.items()}
    if cuda:
        name, seconds = best_gpu_encode(embedder, sample)
        median[name] = seconds
    print(f"{len(sample)} texts, {tokens} tokens, device {embedder.device_name}, pipeline torch in "
          f"{embedder.precision}{', linear layers packed' if embedder.packed else ''}, {embedder.token_budget} "
          f"tokens a batch, median of {args.rounds} interleaved rounds")
    for name, seconds in median.items():
        every = " ".join(f"{t:.2f}" for t in rounds.get(name, []))
        print(f"{name:<24} {seconds:7.2f} s {len(sample) / seconds:9.1f} texts/s {tokens / seconds:10.0f} tokens/s"
              f"   x{median['plain encode'] / seconds:.2f} plain encode   rounds: {every}")
    if cuda:
        best_plain = min(s for n, s in median.items() if n.startswith("plain fp16"))
        print(f"pipeline torch vs best plain encode: x{best_plain / median['pipeline torch']:.2f}")
        print(f"pipeline torch peak GPU memory: {peak / 2**20:.0f} MiB")
    reference = vectors["plain encode"] / np.linalg.norm(vectors["plain encode"], axis=1, keepdims=True)
    for name in (n for n in vectors if n.startswith("pipeline")):
        cosine = float(np.min(np.sum(vectors[name] * reference, axis=1)))
        print(f"lowest cosine {name} vs plain encode (fp32) over {len(sample)} texts: {cosine:.5f}")


if __name__ == "__main__":
    main()
