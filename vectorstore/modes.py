"""The search modes and filter keys, in one light module (no torch, no index): the CLI's
parser, the API's models and `search()` share them.

hybrid is the default everywhere: on our evaluations it ranks better than dense or
keyword alone (`aifactory eval`, README "Search modes"), above all for exact identifiers
that BM25 matches and a small embedding model blurs.
"""

from __future__ import annotations

from typing import Literal, get_args

Mode = Literal["hybrid", "dense", "keyword"]
MODES: tuple[Mode, ...] = get_args(Mode)
DEFAULT_MODE: Mode = "hybrid"
MAX_OFFSET = 900  # pages reach 1,000 hits at most: deeper, a filter narrows better

# What a hit's score is: a cosine similarity (dense); a BM25 score (keyword); the
# reciprocal-rank-fusion value of its dense and BM25 ranks (hybrid), which orders hits but
# measures no similarity; in hybrid mode, a hit holding exact identifiers of the query
# (vectorstore/identifiers.py) scores 1 per identifier held plus its RRF value.
ScoreKind = Literal["cosine", "bm25", "rrf", "exact+rrf"]
SCORE_KINDS: dict[Mode, ScoreKind] = {"dense": "cosine", "keyword": "bm25", "hybrid": "rrf"}

# Payload keys a filter may name with exact values. The tenant is not one: it comes from the caller's key.
FILTER_KEYS: tuple[str, ...] = ("document_id", "jurisdiction", "region", "section", "source_uri", "title",
                                "chunk_id", "event_id")


def score_kind(mode: Mode) -> ScoreKind:
    """What the scores of a search in `mode` are: "cosine", "bm25" or "rrf"."""
    return SCORE_KINDS[mode]
