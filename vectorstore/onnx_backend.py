"""An ONNX Runtime path for embedding on the CPU.

The transformer is exported once, into the data directory, from the same local
weights (no download); tokenisation uses the model's own tokenizer.json, and mean
pooling plus L2 normalisation repeat what the sentence-transformers pipeline of
the default model does. Batches are built from texts of similar token length, so
little padding is computed. Embeddings match torch's within cosine 0.999
(checked by the tests and the embedding benchmark).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from transforms.tokens import token_counter

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxUnavailable(RuntimeError):
    """onnxruntime (or onnx, for the one-time export) is not installed."""


def export(model_dir: Path, target: Path) -> Path:
    """Write `target` (model.onnx) from the sentence-transformers folder, once."""
    if target.exists():
        return target
    try:
        import onnx  # noqa: F401 - the exporter needs it
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise OnnxUnavailable("exporting to ONNX needs the onnx package: pip install onnx") from exc

    class _Hidden(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {"b": 0, "s": 1}
    dynamic = {name: {axes["b"]: "batch", axes["s"]: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated (the torch.export one needs onnxscript too) and
        # its tracer warns about shape checks inside BERT that do not change the exported graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(_Hidden(model), (sample, sample, torch.zeros_like(sample)), str(tmp),
                          input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_axes=dynamic,
                          opset_version=17, dynamo=False)
    os.replace(tmp, target)
    log.info("exported %s to %s", model_dir, target)
    return target


def supports(model_dir: Path) -> bool:
    """Mean pooling is all this path repeats; other pooling stays on torch."""
    pooling = model_dir / "1_Pooling" / "config.json"
    return pooling.exists() and bool(json.loads(pooling.read_text()).get("pooling_mode_mean_tokens"))


class OnnxEncoder:
    def __init__(self, onnx_path: Path, model_dir: Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise OnnxUnavailable("the ONNX backend needs onnxruntime: pip install onnxruntime") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.max_len = token_counter(str(model_dir)).max_seq_length
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self.tokenizer.no_padding()

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray[Any, Any]:
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # similar lengths together
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
        return out
