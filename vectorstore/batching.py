"""Length-bucketed batches sized to the device, and a one-ahead prefetcher.

A batch costs what its padded shape costs: size x longest text. Sorting texts by
token length and cutting batches at a token budget keeps padding near zero and
every batch about the same work, whatever the mix of lengths.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from queue import Queue
from typing import Any, NamedTuple, TypeVar

import numpy as np
from tokenizers import Tokenizer

# Padded tokens per batch on the CPU. Measured on 2 cores with MiniLM: ONNX Runtime ran alike from
# 512 to 2048 and 10-15% slower at 4096; torch was fastest from 1024 to 1536 (7% slower at 512).
CPU_TOKEN_BUDGET = 1024
# On a GPU, about one token of budget per this many bytes of device memory, capped where a
# MiniLM-sized model stops getting faster. An estimate (not measured here): activations of a
# 384-1024 wide model in fp16 cost well under it, so large models still fit.
GPU_BYTES_PER_TOKEN = 256 * 1024
GPU_TOKEN_BUDGET_MAX = 1 << 17
# Batch widths are padded up to a multiple of this. oneDNN (torch's bf16 path on the CPU) keeps
# a compiled kernel per input shape, up to 1024 of them: with a width per query length the
# serving process grew by ~450 MB (issue 9's soak). Multiples of 8 bound the shapes and suit
# GPU tensor cores; the padding cost ~3% of embedding throughput at chunk lengths (measured).
PAD_MULTIPLE = 8

T = TypeVar("T")
R = TypeVar("R")


def cpu_cores() -> int:
    """The cores this process may run on (a container or taskset may give fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def gpu_token_budget(total_memory: int) -> int:
    return max(CPU_TOKEN_BUDGET, min(GPU_TOKEN_BUDGET_MAX, total_memory // GPU_BYTES_PER_TOKEN))


def token_budget(device: str) -> int:
    """Padded tokens per batch for `device` ("cpu", "cuda", "cuda:1")."""
    if not device.startswith("cuda"):
        return CPU_TOKEN_BUDGET
    import torch

    return gpu_token_budget(int(torch.cuda.get_device_properties(torch.device(device)).total_memory))


def token_batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Indices into `lengths`, shortest first, cut so that len(batch) x longest <= budget.

    A text longer than the budget goes alone. Every index appears exactly once; put the
    results back with `out[batch] = vectors`.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted ascending, so this text is the longest of the batch it joins.
        if current and (len(current) + 1) * max(lengths[i], 1) > budget:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


class Batch(NamedTuple):
    """Padded model inputs for the texts at `rows` (positions in the caller's list)."""
    rows: list[int]
    input_ids: np.ndarray[Any, Any]
    attention_mask: np.ndarray[Any, Any]
    token_type_ids: np.ndarray[Any, Any]


def load_tokenizer(model_dir: Path, max_length: int) -> Tokenizer:
    """The model's own fast tokenizer, truncating where the model stops reading, not padding."""
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    return tokenizer


def padded_width(length: int, limit: int = 0) -> int:
    """`length` rounded up to a multiple of PAD_MULTIPLE, but not past `limit` (the longest
    input the model reads) when that is set."""
    width = -(-max(length, 1) // PAD_MULTIPLE) * PAD_MULTIPLE
    return min(width, max(limit, length)) if limit else width


def tokenized_batches(tokenizer: Tokenizer, texts: Sequence[str], budget: int, *,
                      chunk: int | None = None) -> Iterator[Batch]:
    """Tokenise `texts` (`chunk` at a time, so a consumer can start early) into budgeted batches."""
    step = chunk or max(len(texts), 1)
    limit = (tokenizer.truncation or {}).get("max_length", 0)
    for offset in range(0, len(texts), step):
        encodings = tokenizer.encode_batch(list(texts[offset:offset + step]))
        lengths = [len(e.ids) for e in encodings]
        widths = [padded_width(n, limit) for n in lengths]
        for batch in token_batches(widths, budget):
            width = widths[batch[-1]]  # ascending: the last is the widest
            ids = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros_like(ids)
            mask = np.zeros_like(ids)
            for row, i in enumerate(batch):
                n = lengths[i]
                ids[row, :n] = encodings[i].ids
                types[row, :n] = encodings[i].type_ids
                mask[row, :n] = 1
            yield Batch([offset + i for i in batch], ids, mask, types)


def prefetch(items: Iterable[T], prepare: Callable[[T], R]) -> Iterator[R]:
    """`prepare(item)` for each item on a background thread, a step ahead of the consumer, so
    preparing batch i+1 (tokenising, copying to the device) overlaps the compute of batch i.
    An error in `prepare` is raised in the consumer."""
    ready: Queue[tuple[R] | Exception | None] = Queue(maxsize=1)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                ready.put((prepare(item),))
            ready.put(None)
        except Exception as exc:  # noqa: BLE001 - handed over to the consumer, raised there
            ready.put(exc)

    thread = threading.Thread(target=work, name="prefetch", daemon=True)
    thread.start()
    try:
        while (got := ready.get()) is not None:
            if isinstance(got, Exception):
                raise got
            yield got[0]
    finally:
        stop.set()
        while thread.is_alive():  # a consumer that stopped early: unblock the producer
            while not ready.empty():
                ready.get_nowait()
            thread.join(timeout=0.05)
