from __future__ import annotations

import math

import pytest

from vectorstore.metrics import ndcg_at, recall_at, reciprocal_rank, summarise


def test_ndcg_rewards_the_ideal_order() -> None:
    qrels = {"a": 2, "b": 1}
    assert ndcg_at(["a", "b", "x"], qrels) == pytest.approx(1.0)
    swapped = (1 / math.log2(2) + 2 / math.log2(3)) / (2 / math.log2(2) + 1 / math.log2(3))
    assert ndcg_at(["b", "a"], qrels) == pytest.approx(swapped)
    assert ndcg_at(["x", "y"], qrels) == 0.0
    assert ndcg_at(["x"] * 10 + ["a"], qrels) == 0.0  # beyond the cut-off


def test_recall_and_reciprocal_rank() -> None:
    qrels = {"a": 1, "b": 1, "c": 0}
    assert recall_at(["a", "x", "c"], qrels) == 0.5
    assert reciprocal_rank(["x", "y", "b"], qrels) == pytest.approx(1 / 3)
    assert reciprocal_rank(["c"], qrels) == 0.0


def test_summary_averages_over_judged_queries_only() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"z": 0}}
    result = summarise({"q1": ["a"], "q2": ["x", "b"]}, qrels)
    assert result["queries"] == 2 and result["mrr"] == pytest.approx(0.75) and result["recall@100"] == 1.0
