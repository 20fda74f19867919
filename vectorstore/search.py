"""Search: embed the question, query every region's collection under the tenant
filter, and merge the hits by score. Each result says what its score is: a cosine
in dense mode, a reciprocal-rank-fusion value in hybrid mode (vectorstore/modes.py)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from vectorstore.errors import VectorStoreError
from vectorstore.index import Hit, Query, VectorIndex
from vectorstore.modes import DEFAULT_MODE, FILTER_KEYS, MODES, Mode, ScoreKind, score_kind
from vectorstore.sparse import query_vector

MAX_TOP_K = 100


class SearchError(VectorStoreError, ValueError):
    """A search request that cannot be served as asked."""


@dataclass(frozen=True)
class Result:
    rank: int
    score: float
    score_kind: ScoreKind  # "cosine" (dense) or "rrf" (hybrid): what `score` is
    point_id: str
    document_id: str
    title: str
    text: str
    source_uri: str
    section: str
    page: int | None
    quarantined: bool
    screening_reasons: list[str]
    lineage: dict[str, Any]
    vector: list[float] | None = None
    # Other documents holding the same passage (folded into this point): each can be cited.
    also_in: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_hit(cls, rank: int, hit: Hit, kind: ScoreKind) -> Result:
        p = hit.payload
        lineage = {k: p.get(k) for k in ("event_id", "chunk_id", "version", "chunk_no", "topic", "partition",
                                          "offset", "log_epoch", "model", "chunker", "screener", "region")}
        return cls(rank=rank, score=round(hit.score, 6), score_kind=kind, point_id=hit.id,
                   document_id=p["document_id"], title=p.get("title", ""), text=p.get("text", ""),
                   source_uri=p.get("source_uri", ""),
                   section=p.get("section", ""), page=p.get("page"), quarantined=bool(p.get("quarantined")),
                   screening_reasons=list(p.get("screening_reasons") or []), lineage=lineage, vector=hit.vector,
                   also_in=also_in(p))


def also_in(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The other documents of a point's folded duplicates, once each, as citations."""
    seen = {payload.get("document_id")}
    out = []
    for d in payload.get("duplicates") or []:
        if d.get("document_id") not in seen:
            seen.add(d.get("document_id"))
            # Payloads written before titles were listed lack them: "" rather than a gap.
            out.append({"document_id": d.get("document_id") or "", "title": d.get("title") or "",
                        "source_uri": d.get("source_uri") or "", "section": d.get("section") or "",
                        "page": d.get("page")})
    return out


class QueryEmbedder(Protocol):
    def embed_query(self, text: str) -> list[float]: ...


def search(index: VectorIndex, embedder: QueryEmbedder, text: str, *, tenant: str, top_k: int = 5,
           mode: Mode = DEFAULT_MODE, include_quarantined: bool = False,
           filters: dict[str, str] | None = None, regions: Collection[str] | None = None,
           with_vectors: bool = False) -> list[Result]:
    """The top hits of one tenant, hybrid (dense + BM25, fused by rank; the default) or dense;
    chunks quarantined for prompt injection only when asked. `regions`, when given,
    bounds the collections touched (an API key's regions)."""
    if not text.strip():
        raise SearchError("the search text is empty; ask a question")
    if not tenant:
        raise SearchError("a tenant is required: pass --tenant")
    if not 1 <= top_k <= MAX_TOP_K:
        raise SearchError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    if mode not in MODES:
        raise SearchError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    unknown = sorted(set(filters or {}) - set(FILTER_KEYS))
    if unknown:
        # The index would match an unknown key against nothing (or, for the tenant, ignore it): say so instead.
        raise SearchError(f"cannot filter on {', '.join(map(repr, unknown))}: a filter may name "
                          f"{', '.join(FILTER_KEYS)} (the tenant comes from --tenant or the API key)")
    query = Query(dense=embedder.embed_query(text), tenant=tenant, top_k=top_k, mode=mode,
                  sparse=query_vector(text) if mode == "hybrid" else None,
                  include_quarantined=include_quarantined, filters=filters or {}, with_vectors=with_vectors)
    hits: list[Hit] = []
    for region in index.regions():
        if regions is not None and region not in regions:
            continue
        hits.extend(index.search(region, query))
    # Scores of two regions' collections compare: cosine for dense, RRF for hybrid.
    hits.sort(key=lambda h: (-h.score, h.id))
    kind = score_kind(mode)
    return [Result.from_hit(n, h, kind) for n, h in enumerate(hits[:top_k], start=1)]
