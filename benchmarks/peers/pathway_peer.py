"""Pathway as a benchmark child, run by the Python of its own virtual environment
(benchmarks/peers/pathway_env.py: pathway 0.33 pins pyarrow<26, so it cannot sit beside
the lake). Its live RAG indexing as its docs show it: `pw.io.fs.read` in streaming mode
over the folder, a `DocumentStore` (Utf8Parser, RecursiveSplitter of 200 model tokens
with 32 overlap on the model's own tokenizer, SentenceTransformerEmbedder of the same
local model, a brute-force cosine KNN index held in memory) served by
`DocumentStoreServer`; every figure is read through its REST API (/v1/retrieve,
/v1/statistics). Pathway watches the folder itself, so freshness needs no re-run: the
check polls its API every 0.1 s. Kill and resume use Pathway's persistence (a
filesystem backend), as its docs advise for restarts."""

import json
import os
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pathway as pw
from pathway.stdlib.indexing import BruteForceKnnFactory, BruteForceKnnMetricKind
from pathway.xpacks.llm import embedders, parsers, splitters
from pathway.xpacks.llm.document_store import DocumentStore
from pathway.xpacks.llm.servers import DocumentStoreServer
from transformers import AutoTokenizer

from benchmarks.peers.common import (
    CHUNK_OVERLAP,
    CHUNK_TOKENS,
    EDITS,
    EMBED_BATCH,
    Change,
    child_args,
    corpus_files,
    edit_file,
    freshness,
    model_path,
    report,
    st_dtype,
)

EMBEDDED = [0]  # texts embedded so far
EVERYTHING = 1_000_000  # a k above any chunk count: brute force returns every chunk
WAIT_S = 3600.0


class CountingEmbedder(embedders.SentenceTransformerEmbedder):
    def __wrapped__(self, input: list[str], **kwargs: Any) -> list[np.ndarray]:
        EMBEDDED[0] += len(input)
        return super().__wrapped__(input, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(self.base + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read())

    def files(self) -> int:
        try:
            return int(self.post("/v1/statistics", {}).get("file_count") or 0)
        except OSError:
            return -1  # not serving yet

    def chunks(self, query: str, path: Path | None = None, k: int = EVERYTHING) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"query": query, "k": k}
        if path is not None:
            body["filepath_globpattern"] = str(path)
        return list(self.post("/v1/retrieve", body))

    def settle(self, files: int, progress: bool = False) -> int:
        """Wait until the store holds `files` files and its chunk count stops moving; the count."""
        deadline, last = time.monotonic() + WAIT_S, -1
        while time.monotonic() < deadline:
            seen = self.files()
            if progress and seen >= 0:  # files with a chunk in the index: read, split and embedded
                done = len({c["metadata"].get("path") for c in self.chunks("battery")})
                print(f"progress {done}/{files} [", file=sys.stderr, flush=True)
            if seen == files:
                n = len(self.chunks("battery"))
                if n == last:
                    return n
                last = n
            time.sleep(0.5)
        raise RuntimeError(f"pathway did not settle at {files} files in {WAIT_S:.0f} s")


def start(corpus: Path, work: Path, precision: str, persist: bool) -> Api:
    path = model_path()
    embedder = CountingEmbedder(path, batch_size=EMBED_BATCH, **st_dtype(precision))
    docs = pw.io.fs.read(str(corpus), format="binary", mode="streaming", with_metadata=True,
                         autocommit_duration_ms=100)
    store = DocumentStore(
        docs, retriever_factory=BruteForceKnnFactory(embedder=embedder, metric=BruteForceKnnMetricKind.COS),
        parser=parsers.Utf8Parser(),
        splitter=splitters.RecursiveSplitter(chunk_size=CHUNK_TOKENS, chunk_overlap=CHUNK_OVERLAP,
                                             hf_tokenizer=AutoTokenizer.from_pretrained(path)))
    port = free_port()
    DocumentStoreServer("127.0.0.1", port, store)  # registers its REST routes in the graph
    # What DocumentStoreServer.run(threaded=True) does, with Pathway's own persistence when asked.
    config = pw.persistence.Config(pw.persistence.Backend.filesystem(str(work / "pw"))) if persist else None
    threading.Thread(target=pw.run, kwargs={"monitoring_level": pw.MonitoringLevel.NONE,
                                            "persistence_config": config}, daemon=True).start()
    return Api(port)


def main() -> None:
    args = child_args(__doc__ or "")
    corpus = args.corpus.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    total = len(corpus_files(corpus))
    if args.phase in ("kill", "resume"):
        api = start(corpus, args.work, args.precision, persist=True)
        points = api.settle(total, progress=args.phase == "kill")
        report({"points": points})
        os._exit(0)  # Pathway's engine thread has no stop; the figures are out

    # The model is loaded inside start(), before the clock, as every system's is.
    api = start(corpus, args.work, args.precision, persist=False)
    started = time.perf_counter()
    built = api.settle(total)
    hits = api.chunks("battery charging voltage", k=3)
    build_s = time.perf_counter() - started

    files = sorted((corpus / "bench-us").rglob("doc-*.txt"))
    markers = {}
    for i, path in enumerate(files[:EDITS]):
        markers[path] = f"Edited paragraph {i}: the charger firmware was rolled back."
        edit_file(path, markers[path])
    before = EMBEDDED[0]
    deadline = time.monotonic() + WAIT_S
    while not all(any(m in c["text"] for c in api.chunks(m, p, k=10)) for p, m in markers.items()):
        if time.monotonic() > deadline:
            raise RuntimeError("edits not reflected")
        time.sleep(0.2)
    api.settle(total)
    per_edit = (EMBEDDED[0] - before) / EDITS
    gone = files[EDITS:2 * EDITS]
    for path in gone:
        path.unlink()
    api.settle(total - len(gone))
    stale = sum(len(api.chunks("battery", p)) for p in gone)

    def reflects(change: Change) -> bool:
        if change.kind == "delete":
            return not api.chunks("battery", change.path, k=10)
        return any(change.marker in c["text"] for c in api.chunks(change.marker, change.path, k=5))

    # Pathway polls the folder itself: the loop only looks, every 0.1 s.
    fresh = freshness(lambda: None, reflects, corpus, args.changes, 0.1)
    report({"system": "pathway", "build_s": build_s, "search_ok": bool(hits), "points_after_build": built,
            "embedded_per_edited_doc": per_edit, "stale_after_delete": stale, "freshness": fresh,
            "backend": f"pathway {pw.__version__}, in-memory brute-force KNN"})
    os._exit(0)


if __name__ == "__main__":
    main()
