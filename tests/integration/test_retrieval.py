"""Retrieval a RAG application relies on, with the real model and the real engine: exact
identifiers first among near-identical memos, score kinds, pages that follow each other,
score thresholds, and filters beyond exact match, through search() and over HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from aifactory.identifier_set import write
from tests.integration.conftest import ApiWorld
from vectorstore.edge import EdgeIndex
from vectorstore.embedder import Embedder
from vectorstore.index import IndexPoint
from vectorstore.search import SearchError, search
from vectorstore.sparse import document_vector

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def memos(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[EdgeIndex, list[dict[str, Any]],
                                                                                 list[str]]:
    """32 near-identical memos, each naming its own code, indexed as the sync indexes chunks."""
    corpus, queries, _ = write(tmp_path_factory.mktemp("memos") / "set", 32)
    docs = [json.loads(line) for line in corpus.read_text().splitlines()]
    asked = [json.loads(line)["text"] for line in queries.read_text().splitlines()]
    index = EdgeIndex(tmp_path_factory.mktemp("edge"), model_id="m", dimension=embedder.dimension)
    texts = [f"{d['title']}\n{d['text']}" for d in docs]
    vectors = embedder.embed(texts)
    index.upsert("eu-central", [IndexPoint(f"00000000-0000-0000-0000-{n:012d}", vec,
                                           {"tenant": "memos", "document_id": d["_id"], "text": d["text"],
                                            "title": d["title"], "screening": "clear", "page": n % 4 + 1},
                                           document_vector(text))
                                for n, (d, vec, text) in enumerate(zip(docs, vectors, texts, strict=True))])
    return index, docs, asked


def test_the_memo_holding_the_identifier_ranks_first_in_the_default_mode(memos: Any, embedder: Embedder) -> None:
    index, docs, asked = memos
    first = [search(index, embedder, q, tenant="memos", top_k=3)[0] for q in asked]
    assert [r.document_id for r in first] == [d["_id"] for d in docs]
    assert {r.score_kind for r in first} == {"exact+rrf"} and all(r.score > 1 for r in first)
    # Dense alone blurs them (why hybrid is the default): fewer than nine in ten come first.
    dense = sum(search(index, embedder, q, tenant="memos", top_k=1, mode="dense")[0].document_id == d["_id"]
                for q, d in zip(asked, docs, strict=True))
    assert dense < 0.9 * len(docs)


def test_each_mode_says_what_its_score_is(memos: Any, embedder: Embedder) -> None:
    index, _, _ = memos
    question = "who reviews the budget each quarter"
    for mode, kind in (("dense", "cosine"), ("keyword", "bm25"), ("hybrid", "rrf")):
        hits = search(index, embedder, question, tenant="memos", top_k=5, mode=mode)
        assert hits and {h.score_kind for h in hits} == {kind}, mode
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.score <= 2 / 61 for h in search(index, embedder, question, tenant="memos", top_k=5))


def test_pages_follow_each_other_and_a_threshold_cuts_the_tail(memos: Any, embedder: Embedder) -> None:
    index, _, _ = memos
    question = "milestone plan and budget review"
    whole = search(index, embedder, question, tenant="memos", top_k=12, mode="dense")
    pages = [search(index, embedder, question, tenant="memos", top_k=4, offset=o, mode="dense") for o in (0, 4, 8)]
    assert [h.point_id for page in pages for h in page] == [h.point_id for h in whole]
    assert [h.rank for h in pages[1]] == [5, 6, 7, 8]
    # Between two hits' scores: a threshold equal to a hit's score meets float32 rounding.
    cut = (whole[5].score + whole[6].score) / 2
    kept = search(index, embedder, question, tenant="memos", top_k=12, mode="dense", score_threshold=cut)
    assert [h.point_id for h in kept] == [h.point_id for h in whole if h.score >= cut]
    assert len(kept) == 6 or whole[5].score == whole[6].score
    assert search(index, embedder, question, tenant="memos", top_k=5, offset=40) == []
    with pytest.raises(SearchError, match="offset must be between 0 and 900"):
        search(index, embedder, question, tenant="memos", offset=901)


def test_filters_take_any_of_ranges_and_exclusions_and_never_another_tenant(memos: Any, embedder: Embedder) -> None:
    index, _, _ = memos
    q = "project status"
    pages = {h.payload["page"] for h in index.search("eu-central", _any_query(embedder))}
    assert pages == {1, 2, 3, 4}
    ranged = search(index, embedder, q, tenant="memos", top_k=50, filters={"page": {"gte": 2, "lte": 3}})
    assert ranged and {h.document_id for h in ranged} == {f"m{n:03d}" for n in range(32) if n % 4 + 1 in (2, 3)}
    some = search(index, embedder, q, tenant="memos", top_k=50, filters={"document_id": ["m001", "m007"]},
                  exclude={"document_id": "m007"})
    assert [h.document_id for h in some] == ["m001"]
    assert search(index, embedder, q, tenant="someone-else", top_k=50) == []
    with pytest.raises(SearchError, match="cannot filter on 'tenant'"):
        search(index, embedder, q, tenant="memos", filters={"tenant": ["memos", "someone-else"]})


def _any_query(embedder: Embedder) -> Any:
    from vectorstore.index import Query

    return Query(dense=embedder.embed_query("memo"), tenant="memos", top_k=100)


def post(world: ApiWorld, body: dict[str, Any], key: str = "helio-eu/reader") -> httpx.Response:
    return httpx.post(world.url + "/v1/search", json=body, headers=world.auth(key), timeout=60)


def test_the_api_pages_with_next_offset_and_filters_beyond_exact_match(api_world: ApiWorld) -> None:
    body = {"query": "parental leave and remote work", "top_k": 3, "mode": "dense"}
    first = post(api_world, body).json()
    second = post(api_world, {**body, "offset": first["next_offset"]}).json()
    whole = post(api_world, {**body, "top_k": 6}).json()
    assert first["next_offset"] == 3
    assert [h["point_id"] for h in first["hits"] + second["hits"]] == [h["point_id"] for h in whole["hits"]]
    docs = api_world.documents["helio-eu"][:2]
    anyof = post(api_world, {**body, "top_k": 50, "filters": {"document_id": docs}}).json()["hits"]
    assert {h["citation"]["document_id"] for h in anyof} == set(docs)
    rest = post(api_world, {**body, "top_k": 50, "exclude": {"document_id": docs}}).json()["hits"]
    assert rest and not {h["citation"]["document_id"] for h in rest} & set(docs)
    later = post(api_world, {**body, "filters": {"event_time": {"gte": "2999-01-01"}}}).json()
    assert later["hits"] == [] and later["next_offset"] is None
    # Between two hits' scores: a threshold equal to a hit's score meets float32 rounding.
    cut = (whole["hits"][2]["score"] + whole["hits"][3]["score"]) / 2
    kept = post(api_world, {**body, "top_k": 50, "score_threshold": cut}).json()["hits"]
    assert [h["point_id"] for h in kept] == [h["point_id"] for h in whole["hits"] if h["score"] >= cut]
    assert len(kept) == 3 or whole["hits"][2]["score"] == whole["hits"][3]["score"]


@pytest.mark.parametrize(("body", "message"), [
    ({"filters": {"page": {"from": 1}}}, "body.filters.page"),
    ({"filters": {"event_time": {"gte": "yesterday"}}}, "body.filters.event_time"),
    ({"exclude": {"tenant": "helio-us"}}, "body.exclude.tenant: Extra inputs are not permitted"),
    ({"filters": {"section": []}}, "body.filters.section"),
    ({"offset": 901}, "body.offset"),
    ({"mode": "semantic"}, "body.mode"),
])
def test_the_api_refuses_malformed_paging_and_filters_with_a_422_naming_the_field(
        api_world: ApiWorld, body: dict[str, Any], message: str) -> None:
    r = post(api_world, {"query": "parental leave", **body})
    assert r.status_code == 422 and message in r.json()["detail"], r.text


def test_rag_context_marks_a_chunk_cut_to_fit(api_world: ApiWorld) -> None:
    r = httpx.post(api_world.url + "/v1/rag/context", headers=api_world.auth("helio-eu/reader"), timeout=60,
                   json={"query": "How long is parental leave and how do I apply?", "token_budget": 120})
    body = r.json()
    assert r.status_code == 200 and body["tokens"] <= 120 and body["citations"]
    cut = [c for c in body["citations"] if c["truncated"]]
    assert len(cut) <= 1 and (not cut or cut[0] == body["citations"][-1])
    assert (cut and body["context"].rstrip().endswith("…")) or not cut
