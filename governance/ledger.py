"""The usage ledger: an append-only record of what each tenant used, for metering
and chargeback. One JSON object per line, written with fsync; entries are never
rewritten. Every entry carries the run id, so it joins to lineage.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from governance.contracts import utcnow


class UsageEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime = Field(default_factory=utcnow)
    run_id: str
    tenant: str
    # ingest (documents, bytes), chunking (chunks), embedding (texts, tokens, compute), storage (a
    # snapshot: vectors, vector_bytes), query (queries, query tokens), rag_context (context tokens)
    event: str
    region: str = ""
    documents: int = 0
    bytes: int = 0
    chunks: int = 0
    texts: int = 0
    queries: int = 0
    tokens: int = 0
    vectors: int = 0
    vector_bytes: int = 0
    compute_seconds: float = 0.0
    device: str = ""
    processed_in: str = ""  # embedding: the compute region of the worker (AIFACTORY_COMPUTE_REGION); "" unset
    model: str = ""
    request_id: str = ""  # the API request that used it (its line in the request log)
    # Estimates for embedding batches: device power x compute seconds, and that energy at the
    # region's carbon intensity when it was spent (governance/carbon.py).
    energy_wh: float = 0.0
    co2e_g: float = 0.0


def apportion(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`total` split over the keys of `weights` in proportion, in whole units that sum to
    `total` (largest remainder; ties to the first key in order)."""
    keys = sorted(k for k, w in weights.items() if w > 0)
    if not keys:
        return {}
    whole = sum(weights[k] for k in keys)
    shares = {k: total * weights[k] // whole for k in keys}
    rest = total - sum(shares.values())
    for k in sorted(keys, key=lambda k: (-(total * weights[k] % whole), k))[:rest]:
        shares[k] += 1
    return shares


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, entries: list[UsageEntry]) -> None:
        if not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(e.model_dump_json() + "\n" for e in entries).encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self) -> Iterator[UsageEntry]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield UsageEntry.model_validate_json(line)

    def totals(self) -> dict[str, dict[str, Any]]:
        """Per tenant: texts, tokens and compute seconds embedded, and the devices used (embedding entries only)."""
        out: dict[str, dict[str, Any]] = defaultdict(lambda: {"texts": 0, "tokens": 0, "compute_seconds": 0.0,
                                                             "devices": set()})
        for e in self.entries():
            if e.event != "embedding":
                continue
            t = out[e.tenant]
            t["texts"] += e.texts
            t["tokens"] += e.tokens
            t["compute_seconds"] += e.compute_seconds
            t["devices"].add(e.device)
        return {k: {**v, "compute_seconds": round(v["compute_seconds"], 3), "devices": sorted(v["devices"])}
                for k, v in sorted(out.items())}


class LedgerWriter:
    """Appends entries made on many threads (API requests) in batches: one fsync per
    flush rather than per request, so metering adds no disk wait to a query. An
    entry is on disk within `interval` seconds, and all are on close."""

    def __init__(self, ledger: Ledger, interval: float = 0.2) -> None:
        self.ledger, self.interval = ledger, interval
        self._queue: queue.Queue[UsageEntry | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    def put(self, entry: UsageEntry) -> None:
        self._queue.put(entry)

    def _run(self) -> None:
        while True:
            item = self._queue.get()  # wait for the first entry of a batch
            stop = item is None
            batch = [] if item is None else [item]
            deadline = time.monotonic() + self.interval
            while not stop and len(batch) < 1000 and (wait := deadline - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    break
                stop = item is None
                batch += [] if item is None else [item]
            self.ledger.append(batch)
            if stop:
                return

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
