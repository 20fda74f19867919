"""The active model for a sync loads only when a text is to be embedded, and never as
another model than the one the index was built with."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.deferred_model import DeferredEmbedder
from pipeline.errors import PipelineError


def model(model_id: str) -> Any:
    return SimpleNamespace(fingerprint=SimpleNamespace(id=model_id, dimension=4), model_path="/models/m",
                           embed=lambda texts: [[0.0] * 4 for _ in texts])


def test_the_id_and_dimension_come_from_the_marker_and_the_model_loads_once_when_used() -> None:
    loads: list[str] = []
    deferred = DeferredEmbedder(lambda: loads.append("m") or model("m-1"), "m-1", 4)
    assert (deferred.fingerprint.id, deferred.dimension) == ("m-1", 4) and loads == []
    assert deferred.embed(["a", "b"]) == [[0.0] * 4] * 2 and deferred.embed(["c"]) == [[0.0] * 4]
    assert loads == ["m"]


def test_model_files_changed_since_activation_are_refused_by_name() -> None:
    deferred = DeferredEmbedder(lambda: model("m-2"), "m-1", 4)
    with pytest.raises(PipelineError, match=r"not those it was activated with.*aifactory reindex"):
        deferred.embed(["a"])
