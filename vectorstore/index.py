"""The vector index: one protocol, two adapters.

    EdgeIndex     Qdrant Edge, in-process (the embedded default)   vectorstore/edge.py
    QdrantIndex   a Qdrant server or cluster, or qdrant-client's   vectorstore/qdrant.py
                  local mode, through qdrant-client

One collection per region and model fingerprint, so residency is a matter of
which collection a point goes to, and vectors of two models never mix. Each point
has a dense vector and a BM25 sparse vector; search is dense, or hybrid (both,
fused by reciprocal rank), or keyword (BM25 alone). Every search carries the tenant filter; quarantined
chunks are left out unless asked for. The same contract tests run on both.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from vectorstore.filters import Condition, parse
from vectorstore.modes import Mode
from vectorstore.sparse import Sparse

DENSE = "dense"
KEYWORD_FIELDS = ("tenant", "document_id", "document_ids", "jurisdiction", "region", "screening")
SCROLL_PAGE = 2_000
UPSERT_BATCH = 256
RRF_K = 60
# Each side of a hybrid query fetches this many times top_k before fusion.
HYBRID_DEPTH = 4
# Vector quantisation of new collections: "none" (float32) or "int8" (scalar, kept in RAM,
# searched with rescoring of 2x oversampled candidates on the float vectors).
QUANTIZATIONS = ("none", "int8")
RESCORE_OVERSAMPLING = 2.0
_SAFE = re.compile(r"[^a-z0-9-]")


@dataclass(frozen=True)
class IndexPoint:
    id: str
    vector: Sequence[float]
    payload: dict[str, Any]
    sparse: Sparse | None = None


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]
    vector: list[float] | None = None  # the dense vector, when the query asked for it


@dataclass(frozen=True)
class Query:
    """One search: the tenant is required; `filters` and `exclude` add conditions on
    payload keys (vectorstore/filters.py); `sparse` is needed for hybrid and keyword mode."""

    dense: Sequence[float]
    tenant: str
    top_k: int
    mode: Mode = "dense"
    sparse: Sparse | None = None
    include_quarantined: bool = False
    filters: Mapping[str, Any] = field(default_factory=dict)
    exclude: Mapping[str, Any] = field(default_factory=dict)
    with_vectors: bool = False  # MMR needs the candidates' vectors


def dense_of(vector: Any) -> list[float] | None:
    """The dense vector of a returned point, which adapters give as a dict of named vectors."""
    if vector is None:
        return None
    if isinstance(vector, dict):
        vector = vector.get(DENSE)
    return [float(x) for x in vector] if vector is not None else None


class VectorIndex(Protocol):
    """What the factory needs of a vector index."""

    model_id: str

    def upsert(self, region: str, points: Sequence[IndexPoint]) -> None: ...
    def delete(self, region: str, ids: Iterable[str]) -> None: ...
    def ids(self, region: str) -> set[str]: ...
    def digests(self, region: str, *, tenant: str | None = None,
                documents: Collection[str] | None = None) -> dict[str, str]: ...
    def set_payloads(self, region: str, payloads: dict[str, dict[str, Any]]) -> None: ...
    def regions(self) -> list[str]: ...
    def count(self, region: str, *, tenant: str | None = None, document_id: str | None = None) -> int: ...
    def search(self, region: str, query: Query) -> list[Hit]: ...
    def retrieve(self, region: str, ids: list[str]) -> list[Hit]: ...
    def points(self, region: str) -> list[Hit]: ...
    def optimize(self) -> None: ...
    def drop(self, region: str) -> None: ...
    def close(self) -> None: ...


def alias_name(region: str) -> str:
    return f"chunks__{_SAFE.sub('-', region.lower())}"


def collection_name(region: str, model_id: str) -> str:
    return f"chunks__{_SAFE.sub('-', region.lower())}__{_SAFE.sub('-', model_id.lower())}"


def regions_of(names: Iterable[str], model_id: str) -> list[str]:
    suffix = f"__{_SAFE.sub('-', model_id.lower())}"
    return sorted(n.split("__")[1] for n in names if n.startswith("chunks__") and n.endswith(suffix))


def stored(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as both adapters store it: `document_ids` (what a document_id filter
    matches) defaults to the point's own document, for writers that only name that one."""
    if "document_id" in payload and "document_ids" not in payload:
        return {**payload, "document_ids": [payload["document_id"]]}
    return payload


def conditions(query: Query) -> tuple[list[Condition], list[Condition]]:
    """(must, must_not) conditions of a query: the tenant always (first, and no filter
    can name it), the caller's filters and exclusions, and the quarantine tag unless
    quarantined chunks are wanted. A keyword, not a bool: qdrant-edge-py 0.9 never
    matches a bool payload value."""
    must, must_not = parse({k: v for k, v in query.filters.items() if k != "tenant"}, query.exclude)
    must = [Condition("tenant", values=(query.tenant,)), *must]
    if not query.include_quarantined:
        must_not.append(Condition("screening", values=("quarantined",)))
    return must, must_not


class ScrollingIndex:
    """What both adapters derive from one scroll over a region's points."""

    def _scroll(self, region: str, *, with_payload: bool | list[str], tenant: str | None = None,
                documents: Collection[str] | None = None) -> list[Any]:
        """Every point of `region` (of `tenant` only: the tenant index answers; of `documents`
        only: the document index answers), page by page."""
        raise NotImplementedError

    def ids(self, region: str) -> set[str]:
        return {str(r.id) for r in self._scroll(region, with_payload=False)}

    def digests(self, region: str, *, tenant: str | None = None,
                documents: Collection[str] | None = None) -> dict[str, str]:
        return {str(r.id): str((r.payload or {}).get("digest", ""))
                for r in self._scroll(region, with_payload=["digest"], tenant=tenant, documents=documents)}

    def points(self, region: str) -> list[Hit]:
        return [Hit(str(r.id), 0.0, dict(r.payload or {})) for r in self._scroll(region, with_payload=True)]
