"""Context packing by relevance: the last slot goes to the next most relevant chunk, cut to fit,
not to a short, barely related one (a letter's signature block)."""

from __future__ import annotations

import numpy as np

from vectorstore.context import build_context
from vectorstore.search import Result


def result(rank: int, text: str, vector: list[float], title: str) -> Result:
    v = np.asarray(vector, dtype=np.float32)
    return Result(rank=rank, score=1.0 / rank, score_kind="rrf", point_id=f"p{rank}", document_id=f"bank:{title}",
                  title=title, text=text, source_uri=f"file:///{title}", section=title, page=None, quarantined=False,
                  screening_reasons=[], lineage={}, vector=(v / np.linalg.norm(v)).tolist())


def words(text: str) -> int:
    return len(text.split())


HOW_TO_APPLY = " ".join(f"Step {n}: fill in part {n} of the loan form and attach the documents it asks for."
                        for n in range(1, 9))
ELIGIBILITY = "You can apply if you are over 18 and have lived in the country for three years. " * 3
SIGNATURE = "Kind regards, Anna Berger, Branch Manager, Nordbank, Main Street 1."


def test_the_last_slot_is_the_next_relevant_chunk_cut_to_fit_not_a_signature_block() -> None:
    question = [1.0, 0.0, 0.0]
    results = [result(1, ELIGIBILITY, [1.0, 0.0, 0.0], "Eligibility"),
               result(2, HOW_TO_APPLY, [0.9, 0.3, 0.0], "How to apply"),
               result(3, SIGNATURE, [0.1, 0.0, 1.0], "Signature")]
    ctx = build_context(question, results, 110, words, lam=1.0)
    assert [c["section"] for c in ctx.citations] == ["Eligibility", "How to apply"]
    assert [c["truncated"] for c in ctx.citations] == [False, True]
    assert "Step 2: fill in part 2" in ctx.text and "Step 3" not in ctx.text and "Kind regards" not in ctx.text
    assert ctx.text.rstrip().endswith("…") and ctx.tokens <= 110
    assert ctx.left_out == {"less_relevant": 1}


def test_a_chunk_that_fits_whole_is_never_cut() -> None:
    results = [result(1, ELIGIBILITY, [1.0, 0.0, 0.0], "Eligibility"),
               result(2, SIGNATURE, [0.9, 0.1, 0.0], "Signature")]
    ctx = build_context([1.0, 0.0, 0.0], results, 500, words, lam=1.0)
    assert [c["truncated"] for c in ctx.citations] == [False, False] and "Kind regards" in ctx.text
