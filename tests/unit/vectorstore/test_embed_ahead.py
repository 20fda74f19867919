"""Embedding ahead of the sync: vectors of landed chunks are computed once, on a
thread, and the sync takes them instead of embedding the same text again."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from vectorstore.ahead import EmbedAhead, embedding_text
from vectorstore.sync import _embed


class CountingEmbedder:
    """Stands in for the model: a vector derived from the text, and a log of every call."""

    dimension = 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32).reshape(-1, self.dimension)


def row(n: int, op: str = "upsert") -> dict[str, Any]:
    return {"op": op, "title": f"Doc {n}", "text": f"chunk text number {n}" + "x" * n}


def test_landed_chunks_are_embedded_once_and_taken_by_the_sync() -> None:
    embedder = CountingEmbedder()
    landed = [row(n) for n in range(5)] + [row(99, op="delete")]
    feed = [landed]  # handed over once, as a lander's feed drains
    with EmbedAhead(lambda: embedder, lambda: feed.pop() if feed else [], batch=2) as ahead:  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while ahead.embedded < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert ahead.embedded == 4  # two full batches; the fifth waits for a third and is left to the sync
    assert all(len(call) == 2 for call in embedder.calls)
    assert not any(embedding_text(row(99)) in call for call in embedder.calls)  # tombstones carry no text

    texts = [embedding_text(r) for r in landed[:5]]
    vectors, seconds, taken = _embed(embedder, texts, ahead)  # type: ignore[arg-type]
    assert embedder.calls[-1] == [texts[4]]  # only the text not embedded ahead
    assert np.array_equal(vectors, CountingEmbedder().embed(texts)) and seconds > 0 and taken == 4
    assert ahead.take(texts[0]) is None  # handed over once


def test_the_indexer_embeds_announced_chunks_once_and_forgets_those_never_taken() -> None:
    embedder = CountingEmbedder()
    ahead = EmbedAhead.fed()
    announced = [row(1), row(2), row(1), row(3, op="delete")]
    ahead.embed_now(embedder, announced)  # type: ignore[arg-type]
    ahead.embed_now(embedder, announced[:2])  # type: ignore[arg-type]  # heard again: held already
    assert embedder.calls == [[embedding_text(row(1)), embedding_text(row(2))]]
    vectors, _seconds, taken = _embed(embedder, [embedding_text(row(1))], ahead)  # type: ignore[arg-type]
    assert taken == 1 and len(embedder.calls) == 1 and vectors[0][0] == len(embedding_text(row(1)))
    ahead.drop(60.0)
    assert ahead.take(embedding_text(row(2))) is not None  # young: kept for the sync that will ask
    ahead.embed_now(embedder, [row(4)])  # type: ignore[arg-type]
    ahead.drop(0.0)
    assert ahead.take(embedding_text(row(4))) is None
