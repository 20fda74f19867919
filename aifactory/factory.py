"""The composition root: one object that builds each layer's parts from settings,
heavy ones (the model, the index) only when first asked for."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

from aifactory.settings import FactorySettings
from governance.residency import ResidencyPolicy, load_policy
from ingest.lake import Lake
from vectorstore.embedder import Embedder, load_embedder
from vectorstore.index import EdgeIndex


class Factory:
    def __init__(self, settings: FactorySettings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or FactorySettings()
        if embedder is not None:
            self.__dict__["embedder"] = embedder

    @cached_property
    def lake(self) -> Lake:
        return Lake(self.settings.lake_root)

    @cached_property
    def policy(self) -> ResidencyPolicy:
        return load_policy(self.settings.residency_policy)

    @cached_property
    def embedder(self) -> Embedder:
        return load_embedder(self.settings.embedding_model, self.settings.embedding_device)

    @cached_property
    def index(self) -> EdgeIndex:
        fp = self.embedder.fingerprint
        self._remember_model(fp.id, fp.dimension)
        return EdgeIndex(self.settings.index_root, model_id=fp.id, dimension=fp.dimension)

    def index_without_model(self) -> EdgeIndex | None:
        """The index of the model last used here, without loading that model (for status)."""
        if "index" in self.__dict__:
            return self.index
        marker = self._model_marker
        if not marker.exists():
            return None
        info = json.loads(marker.read_text())
        return EdgeIndex(self.settings.index_root, model_id=info["id"], dimension=info["dimension"])

    @property
    def _model_marker(self) -> Path:
        return self.settings.index_root / "active-model.json"

    def _remember_model(self, model_id: str, dimension: int) -> None:
        self._model_marker.parent.mkdir(parents=True, exist_ok=True)
        self._model_marker.write_text(json.dumps({"id": model_id, "dimension": dimension}))

    def close(self) -> None:
        if "index" in self.__dict__:
            self.index.close()
            del self.__dict__["index"]
