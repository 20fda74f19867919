"""Retrieval metrics over ranked document ids and graded relevance judgements
(BEIR/TREC conventions: gains are the qrels grades, log2 discount)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Mapping[str, int]) -> float:
    return next((1.0 / (rank + 1) for rank, doc in enumerate(ranked) if relevant.get(doc, 0) > 0), 0.0)


def summarise(runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, recall@100 and MRR over the queries that have judgements."""
    judged = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    if not judged:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "mrr": 0.0, "queries": 0}
    n = len(judged)
    return {
        "ndcg@10": sum(ndcg_at(runs.get(q, []), qrels[q]) for q in judged) / n,
        "recall@100": sum(recall_at(runs.get(q, []), qrels[q]) for q in judged) / n,
        "mrr": sum(reciprocal_rank(runs.get(q, []), qrels[q]) for q in judged) / n,
        "queries": n,
    }
