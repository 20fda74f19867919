"""LangChain as a benchmark child: the indexing API (`index` with a SQLRecordManager
on SQLite, cleanup "full", the file path as source id) over files split by a
RecursiveCharacterTextSplitter of 200 model tokens with 32 overlap, embedded by
HuggingFaceEmbeddings of the same local model, into a Qdrant local collection on
disk. Freshness: the same indexing re-run over the folder every interval."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from langchain_classic.indexes import SQLRecordManager, index
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_qdrant import QdrantVectorStore
from langchain_text_splitters import RecursiveCharacterTextSplitter
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
DIMENSION = 384


class CountingEmbeddings(Embeddings):
    """HuggingFaceEmbeddings, counting the texts it embeds."""

    def __init__(self, inner: HuggingFaceEmbeddings) -> None:
        self.inner, self.texts = inner, 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def of_file(path: Path) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key="metadata.source", match=models.MatchValue(value=str(path)))])


def main() -> None:
    args = child_args(__doc__ or "")
    corpus = args.corpus.resolve()
    path = model_path()
    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        AutoTokenizer.from_pretrained(path), chunk_size=CHUNK_TOKENS, chunk_overlap=CHUNK_OVERLAP)
    embed = CountingEmbeddings(HuggingFaceEmbeddings(
        model_name=path, model_kwargs={"device": "cpu", **st_dtype(args.precision)},
        encode_kwargs={"batch_size": EMBED_BATCH}))
    client = QdrantClient(path=str(args.work / "qdrant"))
    if not client.collection_exists(COLLECTION):
        client.create_collection(COLLECTION, vectors_config=models.VectorParams(size=DIMENSION,
                                                                                distance=models.Distance.COSINE))
    store = QdrantVectorStore(client=client, collection_name=COLLECTION, embedding=embed)
    records = SQLRecordManager(f"qdrant/{COLLECTION}", db_url=f"sqlite:///{args.work / 'records.sqlite'}")
    records.create_schema()

    def load(files: list[Path]) -> list[Document]:
        docs = [Document(page_content=f.read_text(errors="replace"), metadata={"source": str(f)}) for f in files]
        return splitter.split_documents(docs)

    def count(file: Path | None = None) -> int:
        return client.count(COLLECTION, count_filter=of_file(file) if file else None, exact=True).count

    if args.phase in ("kill", "resume"):
        files = corpus_files(corpus)
        if args.phase == "kill":
            for n in range(0, len(files), KILL_BATCH):
                index(load(files[n:n + KILL_BATCH]), records, store, cleanup="incremental", source_id_key="source")
                print(f"progress {min(n + KILL_BATCH, len(files))}/{len(files)} [", file=sys.stderr, flush=True)
        else:
            index(load(files), records, store, cleanup="full", source_id_key="source")
        report({"points": count()})
        return

    def cycle() -> None:
        index(load(corpus_files(corpus)), records, store, cleanup="full", source_id_key="source")

    def reflects(change: Change) -> bool:
        if change.kind == "delete":
            return count(change.path) == 0
        hits = client.query_points(COLLECTION, query=embed.embed_query(change.marker),
                                   query_filter=of_file(change.path), limit=5, with_payload=True).points
        return any(change.marker in str((h.payload or {}).get("page_content", "")) for h in hits)

    started = time.perf_counter()
    cycle()
    hits = store.similarity_search("battery charging voltage", k=3)
    build_s = time.perf_counter() - started
    built = count()

    files = sorted((corpus / "bench-us").rglob("doc-*.txt"))
    for i, file in enumerate(files[:EDITS]):
        edit_file(file, f"Edited paragraph {i}: the charger firmware was rolled back.")
    before = embed.texts
    cycle()
    per_edit = (embed.texts - before) / EDITS
    gone = files[EDITS:2 * EDITS]
    for file in gone:
        file.unlink()
    cycle()
    stale = sum(count(f) for f in gone)
    fresh = freshness(cycle, reflects, corpus, args.changes, args.interval)
    report({"system": "langchain", "build_s": build_s, "search_ok": bool(hits), "points_after_build": built,
            "embedded_per_edited_doc": per_edit, "stale_after_delete": stale, "freshness": fresh})


if __name__ == "__main__":
    main()
