"""An ONNX Runtime path for embedding on the CPU.

The transformer is exported once, into the data directory, from the same local
weights (no download), and its attention, LayerNorm and GELU subgraphs are fused
into ONNX Runtime's own kernels. fp32 arithmetic is already near the CPU's peak, so
a second copy computes the linear layers outside attention in int8, with a scale
per 16 weights and per 16 activations (MatMulNBits); it is kept only if it embeds
probe texts within cosine QUANT_MIN_COSINE of fp32. Texts shorter than SHORT_TOKENS
run in fp32: their few tokens do not average the rounding away, and they cost little.
Tokenisation uses the model's own tokenizer.json; mean pooling plus L2 normalisation
repeat what the sentence-transformers pipeline of the default model does.
Embeddings match torch's within cosine 0.999 (checked by the tests and the embedding
benchmark).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from transforms.tokens import token_counter
from vectorstore.batching import Batch, cpu_cores, load_tokenizer, tokenized_batches
from vectorstore.errors import VectorStoreError
from vectorstore.precision import PROBES

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Measured with MiniLM on 1,644 varied texts: blocks of 16 give a lowest cosine to fp32 of
# 0.99974 over texts of 16 tokens or more (0.99943 with shorter ones); 20% faster than fp32 on 2 cores.
QUANT_BLOCK = 16
QUANT_MIN_COSINE = 0.9995
SHORT_TOKENS = 16


class OnnxUnavailable(VectorStoreError, RuntimeError):
    """onnxruntime (or onnx, for the one-time export) is not installed."""


def int8_path(target: Path) -> Path:
    return target.with_name(target.name.removesuffix(".onnx") + ".int8.onnx")


def export(model_dir: Path, target: Path) -> Path:
    """Write `target`, the fused ONNX model, from the sentence-transformers folder, once;
    beside it `int8_path(target)` when the int8 copy is close enough. `target` is written
    last, so its presence means both are decided."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    raw, tmp, tmp8 = (target.with_name(f"{target.name}.{os.getpid()}.{s}") for s in ("raw", "tmp", "tmp8"))
    try:
        _export_raw(model_dir, raw)
        _fuse(model_dir, raw, tmp)
        _quantize(tmp, tmp8)
        cosine = _min_cosine(tmp, tmp8, model_dir)
        if cosine >= QUANT_MIN_COSINE:
            os.replace(tmp8, int8_path(target))
        log.info("int8 copy of %s: lowest probe cosine %.5f, %s", model_dir.name, cosine,
                 "kept" if cosine >= QUANT_MIN_COSINE else "dropped")
        os.replace(tmp, target)
    finally:
        for path in (raw, tmp, tmp8):
            path.unlink(missing_ok=True)
    log.info("exported %s to %s", model_dir, target)
    return target


def _export_raw(model_dir: Path, target: Path) -> None:
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

    # Eager attention traces to the MatMul-Softmax pattern the fusion recognises; SDPA's does not.
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()
    sample = torch.ones((2, 8), dtype=torch.long)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated (the torch.export one needs onnxscript too) and
        # its tracer warns about shape checks inside BERT that do not change the exported graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(_Hidden(model), (sample, sample, torch.zeros_like(sample)), str(target),
                          input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_axes=dynamic,
                          opset_version=17, dynamo=False)


def _fuse(model_dir: Path, raw: Path, target: Path) -> None:
    """Attention, LayerNorm and GELU become single fused kernels (same fp32 arithmetic)."""
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((model_dir / "config.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused = optimize_model(str(raw), model_type="bert", num_heads=int(config["num_attention_heads"]),
                               hidden_size=int(config["hidden_size"]), opt_level=0, use_gpu=False)
    log.info("fused %s: %s", model_dir.name,
             {op: n for op, n in fused.get_fused_operator_statistics().items() if n})
    fused.save_model_to_file(str(target))


def _quantize(fused: Path, target: Path) -> None:
    """Every MatMul with constant weights (the linear layers outside the fused attention)
    becomes MatMulNBits: 8-bit weights, symmetric per block of QUANT_BLOCK inputs, int8 compute."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fused))
    weights = {t.name: t for t in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.input[1] not in weights:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)
        k, n = w.shape
        blocks = -(-k // QUANT_BLOCK)
        padded = np.zeros((n, blocks * QUANT_BLOCK), dtype=np.float32)
        padded[:, :k] = w.T
        grouped = padded.reshape(n, blocks, QUANT_BLOCK)
        scale = np.abs(grouped).max(axis=2) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.rint(grouped / scale[:, :, None]), -127, 127) + 128  # no zero points given: 128
        name = node.input[1]
        model.graph.initializer.extend([numpy_helper.from_array(q.astype(np.uint8), f"{name}_q8"),
                                        numpy_helper.from_array(scale.reshape(-1), f"{name}_scale")])
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], f"{name}_q8", f"{name}_scale"],
                                      list(node.output), name=f"{node.name}_q8", domain="com.microsoft",
                                      K=k, N=n, bits=8, block_size=QUANT_BLOCK, accuracy_level=4))
    used = {i for node in nodes for i in node.input}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.node[:], model.graph.initializer[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(target))


def _min_cosine(fp32: Path, int8: Path, model_dir: Path) -> float:
    try:
        a, b = (OnnxEncoder(path, model_dir, workers=1).encode(list(PROBES), 1 << 20) for path in (fp32, int8))
    except Exception as exc:  # noqa: BLE001 - an onnxruntime without 8-bit MatMulNBits: keep fp32
        log.warning("int8 copy unusable, staying on fp32: %s", exc)
        return -1.0
    return float(np.min(np.sum(a * b, axis=1)))


def supports(model_dir: Path) -> bool:
    """Mean pooling is all this path repeats; other pooling stays on torch."""
    pooling = model_dir / "1_Pooling" / "config.json"
    return pooling.exists() and bool(json.loads(pooling.read_text()).get("pooling_mode_mean_tokens"))


class OnnxEncoder:
    """Runs batches on `workers` threads, each batch single-threaded: on few cores that
    scales better than splitting every small matrix product across threads, and a busy
    neighbour stalls one batch instead of every operator."""

    def __init__(self, onnx_path: Path, model_dir: Path, *, int8: Path | None = None,
                 workers: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise OnnxUnavailable("the ONNX backend needs onnxruntime: pip install onnxruntime") from exc
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.int8 = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"]) \
            if int8 is not None and int8.exists() else None
        self.workers = workers or cpu_cores()
        self.tokenizer = load_tokenizer(model_dir, token_counter(str(model_dir)).max_seq_length)

    def encode(self, texts: list[str], budget: int,
               done: Callable[[int], object] = lambda n: None) -> np.ndarray[Any, Any]:
        batches = list(tokenized_batches(self.tokenizer, texts, budget))
        with ThreadPoolExecutor(min(self.workers, len(batches)) or 1, thread_name_prefix="onnx") as pool:
            pooled = []
            for batch, vectors in zip(batches, pool.map(self._run, batches), strict=True):  # concurrent runs are safe
                pooled.append(vectors)
                done(len(batch.rows))
        out = np.empty((len(texts), pooled[0].shape[1] if pooled else 0), dtype=np.float32)
        for batch, vectors in zip(batches, pooled, strict=True):
            out[batch.rows] = vectors
        return out

    def _run(self, batch: Batch) -> np.ndarray[Any, Any]:
        inputs = (batch.input_ids, batch.attention_mask, batch.token_type_ids)
        if self.int8 is None:
            return _embed(self.session, *inputs)
        # Rows are sorted by length: the short head runs in fp32 (see the module docstring).
        lengths = batch.attention_mask.sum(axis=1)
        split = int(np.searchsorted(lengths, SHORT_TOKENS))
        parts = []
        if split:
            width = int(lengths[split - 1])
            parts.append(_embed(self.session, *(np.ascontiguousarray(a[:split, :width]) for a in inputs)))
        if split < len(lengths):
            parts.append(_embed(self.int8, *(a[split:] for a in inputs)))
        return np.concatenate(parts)


def _embed(session: Any, ids: np.ndarray[Any, Any], mask: np.ndarray[Any, Any],
           types: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Mean pooling over real tokens, then unit length: what the default model's pipeline does."""
    hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
    weights = mask.astype(np.float32)
    pooled = np.einsum("bth,bt->bh", hidden, weights) / np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled.astype(np.float32, copy=False)
