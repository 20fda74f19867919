"""BM25 sparse vectors for hybrid search, computed here so that every index
adapter stores and queries the same vectors. The index applies IDF itself
(the sparse vector is configured with the IDF modifier)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from qdrant_edge import Bm25, Bm25Config

from vectorstore.identifiers import whole_tokens

SPARSE = "bm25"
# Chunks are about 200 model tokens, about 150 words.
AVG_CHUNK_WORDS = 150.0


@dataclass(frozen=True)
class Sparse:
    indices: list[int]
    values: list[float]


@lru_cache(maxsize=1)
def _model() -> Bm25:
    return Bm25(Bm25Config(avg_len=AVG_CHUNK_WORDS, language="english"))


def _keywords(text: str) -> str:
    # Identifiers kept whole beside their parts (vectorstore/identifiers.py).
    extra = whole_tokens(text)
    return f"{text}\n{' '.join(extra)}" if extra else text


def document_vector(text: str) -> Sparse:
    v = _model().embed_document(_keywords(text))
    return Sparse(list(v.indices), list(v.values))


def query_vector(text: str) -> Sparse:
    v = _model().embed_query(_keywords(text))
    return Sparse(list(v.indices), list(v.values))
