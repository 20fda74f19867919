"""A RAG context block: the best chunks for a question, diverse, within a token budget.

Candidates come from search (with their vectors). Maximal marginal relevance picks
them one at a time, trading relevance to the question against similarity to what
is already picked, so five near-copies of one paragraph do not fill the budget.
Exact repeats of a text are dropped outright, and so are chunks far less relevant
than the best one (under half its cosine). Packing goes by relevance: when the next
chunk does not fit, it goes in cut at a sentence to fit (its citation says
`truncated`) and packing stops, rather than a less relevant short chunk (a signature
block) taking the last slot. Chunks are numbered in the order picked, and each
number is a citation back to its document and lineage.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vectorstore.search import Result

DEFAULT_LAMBDA = 0.7  # weight of relevance against novelty
RELEVANCE_FLOOR = 0.5  # of the best candidate's cosine to the question
MIN_PART_TOKENS = 24  # a cut chunk shorter than this says too little to cite
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Context:
    text: str
    citations: list[dict[str, Any]]
    tokens: int
    candidates: int
    left_out: dict[str, int] = field(default_factory=dict)  # why candidates were not used, with counts


def block(n: int, r: Result, text: str | None = None) -> str:
    where = f", page {r.page}" if r.page else (f", section \"{r.section}\"" if r.section else "")
    return f"[{n}] {r.title or r.document_id}{where}\n{(r.text if text is None else text).strip()}"


def cut_to_fit(n: int, r: Result, room: int, count_tokens: Callable[[str], int]) -> str | None:
    """The block of `r` with as many of its leading sentences as fit in `room` tokens
    (at least MIN_PART_TOKENS of them), or None."""
    pieces = [p for p in _SENTENCE_END.split(r.text.strip()) if p]
    best = None
    for end in range(1, len(pieces)):
        text = block(n, r, " ".join(pieces[:end]) + " …")
        if count_tokens(text) > room:
            break
        best = text
    if best is None or count_tokens(best) < MIN_PART_TOKENS:
        return None
    return best


def mmr_order(query: np.ndarray, vectors: np.ndarray, lam: float) -> list[int]:
    """Indices of `vectors` in MMR order (all of them). Vectors are unit length."""
    relevance = vectors @ query
    picked: list[int] = []
    best_sim = np.full(len(vectors), -np.inf)
    left = set(range(len(vectors)))
    while left:
        novelty = np.where(np.isinf(best_sim), 0.0, best_sim)
        scores = lam * relevance - (1 - lam) * novelty
        i = max(left, key=lambda j: (scores[j], -j))
        picked.append(i)
        left.discard(i)
        best_sim = np.maximum(best_sim, vectors @ vectors[i])
    return picked


def build_context(query_vector: list[float], results: list[Result], budget: int,
                  count_tokens: Callable[[str], int], *, lam: float = DEFAULT_LAMBDA) -> Context:
    """Pick, in MMR order, every candidate whose block still fits in `budget` tokens."""
    left_out: dict[str, int] = {}
    unique: list[Result] = []
    seen: set[str] = set()
    for r in results:
        key = " ".join(r.text.split()).lower()
        if key in seen:
            left_out["duplicate"] = left_out.get("duplicate", 0) + 1
            continue
        seen.add(key)
        unique.append(r)
    if not unique:
        return Context("", [], 0, len(results), left_out)
    vectors = np.array([r.vector for r in unique], dtype=np.float32)
    question = np.asarray(query_vector, dtype=np.float32)
    relevance = vectors @ question
    floor = RELEVANCE_FLOOR * float(relevance.max())
    order = mmr_order(question, vectors, lam)
    parts: list[str] = []
    citations: list[dict[str, Any]] = []
    used = 0
    full = False
    for i in order:
        r = unique[i]
        if full or relevance[i] < floor:
            reason = "less_relevant" if relevance[i] < floor else "over_budget"
            left_out[reason] = left_out.get(reason, 0) + 1
            continue
        n = len(parts) + 1
        gap = 2 if parts else 0  # the blank line between blocks
        text = block(n, r)
        truncated = False
        if used + gap + count_tokens(text) > budget:
            # By relevance: this chunk, cut to fit, or nothing; never a lesser one after it.
            full, truncated = True, True
            cut = cut_to_fit(n, r, budget - used - gap, count_tokens)
            if cut is None:
                left_out["over_budget"] = left_out.get("over_budget", 0) + 1
                continue
            text = cut
        parts.append(text)
        used += gap + count_tokens(text)
        citations.append({"n": n, "document_id": r.document_id, "title": r.title, "source_uri": r.source_uri,
                          "page": r.page, "section": r.section, "point_id": r.point_id, "score": r.score,
                          "score_kind": r.score_kind, "quarantined": r.quarantined, "lineage": r.lineage,
                          "truncated": truncated})
    return Context("\n\n".join(parts), citations, used, len(results), left_out)
