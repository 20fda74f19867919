"""LlamaIndex as a benchmark child: `IngestionPipeline` (SentenceSplitter of 200
model tokens with 32 overlap, HuggingFaceEmbedding of the same local model,
a docstore for dedup with the upserts-and-delete strategy) into a Qdrant local
collection on disk. Freshness: the same pipeline re-run over the folder every
interval, which is how LlamaIndex is kept up to date (it has no watcher)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from llama_index.core import SimpleDirectoryReader
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient, models
from transformers import AutoTokenizer

from benchmarks.peers.common import (
    CHUNK_OVERLAP,
    CHUNK_TOKENS,
    EDITS,
    EMBED_BATCH,
    KILL_BATCH,
    Change,
    child_args,
    corpus_files,
    edit_file,
    freshness,
    model_path,
    report,
    st_dtype,
)

COLLECTION = "bench"
EMBEDDED = [0]  # texts embedded so far


class CountingEmbedding(HuggingFaceEmbedding):
    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        EMBEDDED[0] += len(texts)
        return super()._get_text_embeddings(texts)


def build_pipeline(client: QdrantClient, strategy: DocstoreStrategy,
                   precision: str = "fp32") -> tuple[IngestionPipeline, Any]:
    path = model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    embed = CountingEmbedding(model_name=path, embed_batch_size=EMBED_BATCH, **st_dtype(precision))
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=CHUNK_TOKENS, chunk_overlap=CHUNK_OVERLAP,
                                          tokenizer=tokenizer.tokenize, include_metadata=False), embed],
        vector_store=QdrantVectorStore(client=client, collection_name=COLLECTION),
        docstore=SimpleDocumentStore(), docstore_strategy=strategy)
    return pipeline, embed


def of_file(path: Path) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key="doc_id", match=models.MatchValue(value=str(path)))])


def count(client: QdrantClient, path: Path | None = None) -> int:
    if not client.collection_exists(COLLECTION):
        return 0
    return client.count(COLLECTION, count_filter=of_file(path) if path else None, exact=True).count


def main() -> None:
    args = child_args(__doc__ or "")
    corpus = args.corpus.resolve()
    client = QdrantClient(path=str(args.work / "qdrant"))
    stored = args.work / "pipeline"
    if args.phase in ("kill", "resume"):
        # Resumable, as the docs advise for a large corpus: batches, the docstore persisted after each.
        pipeline, _ = build_pipeline(client, DocstoreStrategy.UPSERTS, args.precision)
        if stored.exists():
            pipeline.load(str(stored))
        if args.phase == "kill":
            files = corpus_files(corpus)
            for n in range(0, len(files), KILL_BATCH):
                pipeline.run(documents=SimpleDirectoryReader(input_files=files[n:n + KILL_BATCH],
                                                             filename_as_id=True).load_data())
                pipeline.persist(str(stored))
                print(f"progress {min(n + KILL_BATCH, len(files))}/{len(files)} [", file=sys.stderr, flush=True)
        else:
            pipeline.docstore_strategy = DocstoreStrategy.UPSERTS_AND_DELETE
            pipeline.run(documents=SimpleDirectoryReader(str(corpus), recursive=True, filename_as_id=True).load_data())
        report({"points": count(client)})
        return

    pipeline, embed = build_pipeline(client, DocstoreStrategy.UPSERTS_AND_DELETE, args.precision)

    def cycle() -> None:
        pipeline.run(documents=SimpleDirectoryReader(str(corpus), recursive=True, filename_as_id=True).load_data())

    def reflects(change: Change) -> bool:
        if change.kind == "delete":
            return count(client, change.path) == 0
        vector = embed.get_query_embedding(change.marker)
        hits = client.query_points(COLLECTION, query=vector, query_filter=of_file(change.path), limit=5,
                                   with_payload=True).points
        return any(change.marker in json.dumps(h.payload) for h in hits)

    started = time.perf_counter()
    cycle()
    hits = client.query_points(COLLECTION, query=embed.get_query_embedding("battery charging voltage"), limit=3).points
    build_s = time.perf_counter() - started
    built = count(client)

    files = sorted((corpus / "bench-us").rglob("doc-*.txt"))
    for i, path in enumerate(files[:EDITS]):
        edit_file(path, f"Edited paragraph {i}: the charger firmware was rolled back.")
    before = EMBEDDED[0]
    cycle()
    per_edit = (EMBEDDED[0] - before) / EDITS
    gone = files[EDITS:2 * EDITS]
    for path in gone:
        path.unlink()
    cycle()
    stale = sum(count(client, p) for p in gone)
    fresh = freshness(cycle, reflects, corpus, args.changes, args.interval)
    report({"system": "llamaindex", "build_s": build_s, "search_ok": bool(hits), "points_after_build": built,
            "embedded_per_edited_doc": per_edit, "stale_after_delete": stale, "freshness": fresh})


if __name__ == "__main__":
    main()
