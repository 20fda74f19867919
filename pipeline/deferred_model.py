"""The active model for an index sync, loaded only when a text is to be embedded.

A run that changes nothing opens the index by the active model's id and dimension (its
marker, `Factory.active_model`) and compares digests; loading the model (seconds of
torch and weights on a CPU) waits until a chunk is actually missing from the index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.errors import PipelineError
from vectorstore.embedder import Embedder


@dataclass(frozen=True)
class KnownModel:
    """What the marker says of the active model: enough for point ids and the index."""

    id: str
    dimension: int


class DeferredEmbedder:
    def __init__(self, load: Callable[[], Embedder], model_id: str, dimension: int) -> None:
        self._load, self._known = load, KnownModel(model_id, dimension)
        self._real: Embedder | None = None

    @property
    def fingerprint(self) -> Any:
        return self._real.fingerprint if self._real is not None else self._known

    @property
    def dimension(self) -> int:
        return self._known.dimension

    def real(self) -> Embedder:
        if self._real is None:
            real = self._load()
            if real.fingerprint.id != self._known.id:
                raise PipelineError(
                    f"the active model's files at {real.model_path} are not those it was activated with "
                    f"({real.fingerprint.id}, not {self._known.id}); restore them, or build an index for them "
                    "with `aifactory reindex --model PATH`")
            self._real = real
        return self._real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)
