"""Length-bucketed batching: every text once, in budget, back in the caller's order."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

from vectorstore.batching import (
    CPU_TOKEN_BUDGET,
    GPU_TOKEN_BUDGET_MAX,
    PAD_MULTIPLE,
    gpu_token_budget,
    load_tokenizer,
    padded_width,
    prefetch,
    token_batches,
    token_budget,
    tokenized_batches,
)
from vectorstore.embedder import default_model_path


def test_every_index_once_and_order_restored() -> None:
    rng = random.Random(7)
    lengths = [rng.randint(1, 256) for _ in range(500)]
    batches = token_batches(lengths, 2048)
    assert sorted(i for b in batches for i in b) == list(range(500))
    out = np.empty(500)
    for b in batches:  # what the embedder does with each batch's vectors
        out[b] = [lengths[i] for i in b]
    assert out.tolist() == lengths


@pytest.mark.parametrize("budget", [64, 512, 2048, 10_000])
def test_padded_tokens_stay_in_budget(budget: int) -> None:
    rng = random.Random(budget)
    lengths = [rng.randint(1, 200) for _ in range(300)]
    for b in token_batches(lengths, budget):
        assert len(b) * max(lengths[i] for i in b) <= budget or len(b) == 1


def test_batches_are_sorted_by_length_and_full() -> None:
    lengths = [5, 100, 7, 100, 6, 50]
    batches = token_batches(lengths, 200)
    # 4 x 50 and 2 x 100 fill the 200 exactly
    assert [[lengths[i] for i in b] for b in batches] == [[5, 6, 7, 50], [100, 100]]


def test_a_text_longer_than_the_budget_goes_alone() -> None:
    lengths = [10, 10, 5000, 10]
    batches = token_batches(lengths, 100)
    assert [2] in batches
    assert sorted(len(b) for b in batches) == [1, 3]


def test_empty_input_gives_no_batches() -> None:
    assert token_batches([], 2048) == []
    assert list(tokenized_batches(load_tokenizer(default_model_path(), 256), [], 2048)) == []


def test_tokenized_batches_pad_to_the_longest_and_keep_positions() -> None:
    texts = ["a b c d e f g h", "short", "a much longer text " * 30, "mid sized text here"]
    tokenizer = load_tokenizer(default_model_path(), 16)
    seen = []
    for batch in tokenized_batches(tokenizer, texts, 40, chunk=3):
        assert batch.input_ids.shape == batch.attention_mask.shape == batch.token_type_ids.shape
        assert batch.input_ids.shape[1] <= 16  # truncated where the model stops reading
        assert batch.input_ids.size <= 40 or len(batch.rows) == 1
        assert (batch.attention_mask.sum(axis=1) > 0).all()
        seen += batch.rows
    assert sorted(seen) == [0, 1, 2, 3]


def test_widths_come_from_a_few_padded_shapes_whatever_the_lengths() -> None:
    # One compiled kernel per shape is kept by oneDNN: query lengths 1..256 must map to 32 widths.
    tokenizer = load_tokenizer(default_model_path(), 256)
    rng = random.Random(3)
    texts = [" ".join("word" for _ in range(rng.randint(0, 300))) for _ in range(200)]
    widths = {next(iter(tokenized_batches(tokenizer, [t], 1024))).input_ids.shape[1] for t in texts}
    assert all(w % PAD_MULTIPLE == 0 and w <= 256 for w in widths)
    assert len(widths) > 10  # the lengths vary; the shapes are bounded, not collapsed
    assert [padded_width(n, 256) for n in (1, 8, 9, 251, 256)] == [8, 8, 16, 256, 256]
    assert padded_width(9, 12) == 12  # never past what the model reads


def test_device_budgets() -> None:
    assert token_budget("cpu") == CPU_TOKEN_BUDGET
    assert gpu_token_budget(80 * 2**30) == GPU_TOKEN_BUDGET_MAX
    assert CPU_TOKEN_BUDGET <= gpu_token_budget(8 * 2**30) < GPU_TOKEN_BUDGET_MAX
    assert gpu_token_budget(2**20) == CPU_TOKEN_BUDGET  # never below the CPU's


def test_prefetch_keeps_order_and_runs_ahead() -> None:
    prepared: list[int] = []

    def prepare(i: int) -> int:
        prepared.append(i)
        return i * 10

    got = []
    for value in prefetch(range(5), prepare):
        time.sleep(0.02)  # "compute": the next item is prepared meanwhile
        got.append(value)
        assert len(prepared) >= min(len(got) + 1, 5)
    assert got == [0, 10, 20, 30, 40]


def test_prefetch_raises_the_producers_error_in_the_consumer() -> None:
    def prepare(i: int) -> int:
        if i == 2:
            raise ValueError("bad batch 2")
        return i

    with pytest.raises(ValueError, match="bad batch 2"):
        list(prefetch(range(5), prepare))


def test_prefetch_stops_its_thread_when_the_consumer_stops_early() -> None:
    # Its own thread, by name: other tests' daemon threads may still be ending meanwhile.
    def prefetching() -> int:
        return sum(t.name == "prefetch" for t in threading.enumerate())

    before = prefetching()
    for value in prefetch(range(1000), lambda i: i):
        if value == 3:
            assert prefetching() == before + 1
            break
    assert prefetching() == before
