"""Embedding throughput of the pipeline's embedder against a plain
`SentenceTransformer.encode` over the same texts, with the same model, in one run.

    python -m benchmarks.embedding --chunks 1500

Texts are chunks cut by the pipeline's own chunker from a generated corpus.
Prints texts/s and tokens/s for each, and the ratio pipeline / plain.
"""

from __future__ import annotations

import argparse
import random
import time

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
    plain = embedder.model
    plain.encode(sample[:64])  # warm up
    best: dict[str, float] = {}
    for _ in range(args.rounds):  # alternate, so both see the same machine state
        for name, run in (("plain encode", lambda: plain.encode(sample)),
                          ("pipeline embedder", lambda: embedder.embed(sample))):
            started = time.perf_counter()
            run()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    print(f"{len(sample)} texts, {tokens} tokens, device {embedder.device}")
    for name, seconds in best.items():
        print(f"{name:<18} {seconds:7.1f} s {len(sample) / seconds:8.1f} texts/s {tokens / seconds:9.0f} tokens/s")
    print(f"ratio pipeline / plain: {best['plain encode'] / best['pipeline embedder']:.2f}")


if __name__ == "__main__":
    main()
