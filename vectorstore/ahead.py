"""Embedding ahead of the index sync: vectors for chunk rows as they land, while
the stream is still chunking later documents.

A vector is a pure function of the model and the text embedded (`embedding_text`),
so one computed here is the one the sync would compute. The sync takes it from
here instead of embedding again, and meters it then, with the compute seconds it
cost. Nothing is written to the index here: the sync alone decides what the index
holds, so its exactly-once argument is untouched. A chunk embedded ahead that the
sync never asks for (folded into a duplicate family, superseded by a newer
version) is compute spent and not billed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from vectorstore.embedder import Embedder

log = logging.getLogger(__name__)

AHEAD_BATCH = 64  # texts embedded at a time: small, so that the sync rarely waits for a batch in flight
POLL_S = 0.2  # how often newly landed rows are asked for

Row = dict[str, Any]
Vector = np.ndarray[Any, Any]


def embedding_text(row: Row) -> str:
    # The title gives a chunk from the middle of a document its topic.
    return f"{row['title']}\n{row['text']}" if row["title"] else row["text"]


class EmbedAhead:
    """Embeds the upsert rows `new_rows()` returns (each row once, as a lander's
    feed drains) on a thread of its own, until `close`. `take` hands a vector over
    once. `embedder` is called on that thread, so a model not loaded yet loads
    while the stream starts instead of before it."""

    def __init__(self, embedder: Callable[[], Embedder], new_rows: Callable[[], list[Row]], *,
                 batch: int = AHEAD_BATCH) -> None:
        self.embedder, self.new_rows, self.batch = embedder, new_rows, batch
        self._queue: list[str] = []
        self._queued: set[str] = set()
        self._vectors: dict[str, tuple[Vector, float]] = {}  # text -> (vector, compute seconds)
        self._at: dict[str, float] = {}  # text -> when it was embedded (monotonic)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.embedded = 0

    @classmethod
    def fed(cls) -> EmbedAhead:
        """One without a thread of its own: filled by `embed_now` only."""
        def unstarted() -> Embedder:
            raise RuntimeError("an EmbedAhead made by fed() is not started")
        return cls(unstarted, list)

    def start(self) -> EmbedAhead:
        self._thread = threading.Thread(target=self._run, name="embed-ahead", daemon=True)
        self._thread.start()
        return self

    def _collect(self) -> None:
        for row in self.new_rows():
            if row["op"] != "upsert":
                continue
            text = embedding_text(row)
            if text not in self._queued:
                self._queued.add(text)
                self._queue.append(text)

    def _run(self) -> None:
        try:
            embedder = self.embedder()
            while not self._stop.is_set():
                self._collect()
                if len(self._queue) < self.batch:
                    self._stop.wait(POLL_S)
                    continue
                texts, self._queue = self._queue[:self.batch], self._queue[self.batch:]
                self._embed(embedder, texts)
        except BaseException as exc:  # noqa: BLE001 - the sync embeds what is missing; logged, not raised
            self.error = exc
            log.warning("embedding ahead stopped; the index sync embeds the rest: %r", exc)

    def _embed(self, embedder: Embedder, texts: list[str]) -> None:
        began = time.perf_counter()
        vectors = embedder.embed(texts)
        spent = time.perf_counter() - began
        total = sum(len(t) for t in texts) or 1
        now = time.monotonic()
        for text, vector in zip(texts, vectors, strict=True):
            self._vectors[text] = (vector, spent * len(text) / total)
            self._at[text] = now
        self.embedded += len(texts)

    def embed_now(self, embedder: Embedder, rows: list[Row]) -> None:
        """Embed the upserts among `rows` on the caller's thread, unless held already: the
        indexer does so with the chunks a message announced, while a lander writes them."""
        texts = list(dict.fromkeys(embedding_text(r) for r in rows if r["op"] == "upsert"))
        texts = [t for t in texts if t not in self._vectors]
        if texts:
            self._embed(embedder, texts)

    def drop(self, older_than_s: float) -> None:
        """Forget vectors no sync took for that long (their chunk was superseded or folded
        into a duplicate before it landed): compute spent, not billed."""
        limit = time.monotonic() - older_than_s
        for text in [t for t, at in self._at.items() if at < limit]:
            self._vectors.pop(text, None)
            del self._at[text]

    def close(self, *, wait: bool = True) -> None:
        """Stop after the batch in flight; what was not embedded yet is left to the sync.
        `wait=False` does not wait for it (nor for a model still loading): the thread
        ends on its own, and no sync will ask for its vectors."""
        self._stop.set()
        if self._thread is not None and wait:
            self._thread.join()
        log.info("embedded %d chunk(s) ahead of the index sync", self.embedded)

    def take(self, text: str) -> tuple[Vector, float] | None:
        """The vector of `text` and the seconds it cost, if it was embedded ahead."""
        self._at.pop(text, None)
        return self._vectors.pop(text, None)

    def __enter__(self) -> EmbedAhead:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, *exc: object) -> None:
        self.close(wait=et is None)  # a failed stream is not held up by a model still loading
