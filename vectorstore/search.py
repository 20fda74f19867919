"""Search: embed the question, query every region's collection under the tenant
filter, and merge the hits by score. Each result says what its score is: a cosine
in dense mode, a BM25 score in keyword mode, a reciprocal-rank-fusion value in hybrid
mode, plus 1 per exact identifier of the query the chunk holds (vectorstore/modes.py).
Pages are cut after the merge, so page two follows page one across regions."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from vectorstore.errors import VectorStoreError
from vectorstore.filters import FilterError, parse
from vectorstore.identifiers import held, identifiers
from vectorstore.index import Hit, Query, VectorIndex
from vectorstore.modes import DEFAULT_MODE, MAX_OFFSET, MODES, Mode, ScoreKind, score_kind
from vectorstore.sparse import query_vector

MAX_TOP_K = 100
IDENTIFIER_POOL = 100


class SearchError(VectorStoreError, ValueError):
    """A search request that cannot be served as asked."""


@dataclass(frozen=True)
class Result:
    rank: int
    score: float
    score_kind: ScoreKind  # what `score` is: "cosine", "bm25", "rrf" or "exact+rrf"
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
    # "clear", "quarantined", or "released": quarantined, then released by a reviewer (`release`: who, why, when)
    screening: str = "clear"
    release: dict[str, str] | None = None

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
                   also_in=also_in(p), screening=str(p.get("screening") or "clear"), release=p.get("release"))


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


def check(text: str, tenant: str, top_k: int, mode: Mode, offset: int) -> None:
    if not text.strip():
        raise SearchError("the search text is empty; ask a question")
    if not tenant:
        raise SearchError("a tenant is required: pass --tenant")
    if not 1 <= top_k <= MAX_TOP_K:
        raise SearchError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    if not 0 <= offset <= MAX_OFFSET:
        raise SearchError(f"offset must be between 0 and {MAX_OFFSET}, got {offset}: narrow the search with "
                          f"filters instead of paging that deep")
    if mode not in MODES:
        raise SearchError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def _exact_first(hits: list[Hit], wanted: list[str]) -> list[tuple[Hit, ScoreKind]]:
    """Hybrid hits, those holding exact identifiers of the query first: each scores
    1 per identifier it holds plus its RRF value ("exact+rrf")."""
    scored: list[tuple[float, Hit, ScoreKind]] = []
    for h in hits:
        n = len(held(wanted, h.payload.get("text", ""))) if wanted else 0
        scored.append((n + h.score, h, "exact+rrf" if n else "rrf"))
    scored.sort(key=lambda t: (-t[0], t[1].id))
    return [(replace(h, score=score), kind) for score, h, kind in scored]


def search(index: VectorIndex, embedder: QueryEmbedder, text: str, *, tenant: str, top_k: int = 5,
           mode: Mode = DEFAULT_MODE, include_quarantined: bool = False,
           filters: Mapping[str, Any] | None = None, exclude: Mapping[str, Any] | None = None,
           regions: Collection[str] | None = None, with_vectors: bool = False, offset: int = 0,
           score_threshold: float | None = None, exact_identifiers: bool = True) -> list[Result]:
    """Hits `offset + 1` to `offset + top_k` of one tenant: hybrid (dense + BM25, fused by
    rank, exact identifiers of the query first; the default), dense or keyword (BM25).
    Chunks quarantined for prompt injection only when asked; `filters` and `exclude` as in
    vectorstore/filters.py; hits scoring under `score_threshold` (in the mode's score
    kind) are left out. `regions`, when given, bounds the collections touched (an API key's).
    `exact_identifiers=False` gives plain rank fusion in hybrid mode (`aifactory eval` compares)."""
    check(text, tenant, top_k, mode, offset)
    try:
        parse(filters, exclude)
    except FilterError as exc:
        raise SearchError(str(exc)) from None
    wanted = identifiers(text) if mode == "hybrid" and exact_identifiers else []
    window = offset + top_k
    # Identifier queries fuse a deeper pool, so a chunk that BM25 ranks first and the
    # dense side misses is still among the candidates.
    depth = max(window, IDENTIFIER_POOL) if wanted else window
    query = Query(dense=embedder.embed_query(text) if mode != "keyword" else [], tenant=tenant, top_k=depth,
                  mode=mode, sparse=query_vector(text) if mode != "dense" else None,
                  include_quarantined=include_quarantined, filters=dict(filters or {}), exclude=dict(exclude or {}),
                  with_vectors=with_vectors)
    hits: list[Hit] = []
    for region in index.regions():
        if regions is not None and region not in regions:
            continue
        hits.extend(index.search(region, query))
    # Scores of two regions' collections compare: cosine, BM25 (one IDF per region) or RRF.
    if mode == "hybrid":
        ranked = _exact_first(hits, wanted)
    else:
        hits.sort(key=lambda h: (-h.score, h.id))
        ranked = [(h, score_kind(mode)) for h in hits]
    if score_threshold is not None:
        ranked = [(h, k) for h, k in ranked if h.score >= score_threshold]
    return [Result.from_hit(n, h, kind) for n, (h, kind) in enumerate(ranked[offset:window], start=offset + 1)]
