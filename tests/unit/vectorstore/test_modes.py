"""One vocabulary of search modes and filter keys for search(), the API and the CLI."""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Any

import pytest

from vectorstore import modes
from vectorstore.api.models import ContextRequest, Exclusions, Filters, SearchRequest
from vectorstore.filters import ALL_KEYS, RANGE_KEYS
from vectorstore.search import SearchError, search


def test_modes_is_light_enough_for_the_clis_help() -> None:
    code = ("import sys, vectorstore.modes; "
            "heavy = [m for m in ('torch', 'qdrant_client', 'qdrant_edge', 'numpy', 'fastapi') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"vectorstore.modes pulls in {out}"


def test_one_default_mode_everywhere() -> None:
    # Hybrid measured best (README "Search modes": `aifactory eval` on the BEIR and identifier sets).
    assert modes.DEFAULT_MODE == "hybrid" and modes.DEFAULT_MODE in modes.MODES
    assert set(modes.MODES) == {"dense", "hybrid", "keyword"}
    assert inspect.signature(search).parameters["mode"].default == modes.DEFAULT_MODE
    assert SearchRequest.model_fields["mode"].default == modes.DEFAULT_MODE
    assert ContextRequest.model_fields["mode"].default == modes.DEFAULT_MODE


def test_score_kind_names_what_a_score_is() -> None:
    assert modes.score_kind("dense") == "cosine"
    assert modes.score_kind("hybrid") == "rrf"
    assert modes.score_kind("keyword") == "bm25"


def test_the_filter_keys_are_the_apis() -> None:
    assert tuple(Filters.model_fields) == ALL_KEYS == modes.FILTER_KEYS + RANGE_KEYS
    assert tuple(Exclusions.model_fields) == modes.FILTER_KEYS
    assert "tenant" not in ALL_KEYS


class Untouched:
    """An index or embedder that fails the test if search() gets as far as using it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"search() used .{name} before refusing the filter")


@pytest.mark.parametrize("key", ["tenant", "colour"])
def test_search_refuses_an_unknown_filter_key_naming_the_valid_ones(key: str) -> None:
    with pytest.raises(SearchError) as caught:
        search(Untouched(), Untouched(), "parental leave", tenant="acme",  # type: ignore[arg-type]
               filters={"document_id": "acme:x.md", key: "x"})
    message = str(caught.value)
    assert repr(key) in message
    assert all(k in message for k in ALL_KEYS), message
