"""The embedding path stage by stage, on a GPU (issue 24): what each stage sustains alone,
what the pipeline's embedder sustains end to end, plain `SentenceTransformer.encode` on the
same device, and the model's FLOP ceiling.

    python -m benchmarks.gpu_path --distinct 8000 --repeat 8

Stages, each timed alone over the same texts (chunks cut by the pipeline's chunker from a
generated corpus; `--repeat` copies of `--distinct` texts, which costs the GPU the same):
- tokenise: the model's fast tokenizer over all texts (its own threads), then with the
  pipeline's padding into length-bucketed batches (vectorstore/batching.py);
- compute: the model's forward pass over batches already on the device, per token budget
  (padded tokens a batch), in the pipeline's number format and in fp32;
- embed: the pipeline's `Embedder.embed` (tokenise, pinned copy on a side stream, compute);
- plain encode: fp32 at its default batch size, and fp16 at the best of a few batch sizes.

Tokens are the model's real input tokens (special tokens included, padding not). The
FLOP ceiling counts the dense work of each text at its own length: 2 x linear weights per
token plus 4 x length x width per token and layer for attention (all-MiniLM-L6-v2 at 256
tokens: 23.6 MFLOP a token), against `--peak-tflops` (an H100 or H200 SXM: 989 dense fp16).
Runs on a CPU too (small sizes), to check the script, not to report.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from benchmarks.embedding import plain_model, texts
from vectorstore import batching
from vectorstore.batching import tokenized_batches
from vectorstore.embedder import GPU_TOKENIZE_CHUNK, Embedder, load_embedder

PLAIN_BATCH_SIZES = (64, 128, 256, 512, 1024)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def best_of(rounds: int, run: Callable[[], Any], device: str) -> float:
    """The fastest of `rounds` timed runs, after one untimed warm-up."""
    run()
    times = []
    for _ in range(rounds):
        sync(device)
        started = time.perf_counter()
        run()
        sync(device)
        times.append(time.perf_counter() - started)
    return min(times)


def flops_per_text(lengths: list[int], model: Any) -> float:
    """Dense FLOPs of the encoder over texts of these real lengths (no padding)."""
    config = model[0].auto_model.config
    d, layers, inner = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    linear = layers * (4 * d * d + 2 * d * inner)
    return float(sum(n * (2 * linear + 4 * n * d * layers) for n in lengths))


def on_device(batches: list[batching.Batch], device: str) -> list[dict[str, Any]]:
    return [{"input_ids": torch.from_numpy(b.input_ids).to(device),
             "attention_mask": torch.from_numpy(b.attention_mask).to(device),
             "token_type_ids": torch.from_numpy(b.token_type_ids).to(device)} for b in batches]


def compute_only(model: Any, features: list[dict[str, Any]]) -> Callable[[], None]:
    def run() -> None:
        with torch.inference_mode():
            for f in features:
                model(f)["sentence_embedding"]
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--distinct", type=int, default=8000)
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--budgets", default="8192,32768,65536,131072,262144")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--compile", action="store_true", help="torch.compile the pipeline's encoder first")
    ap.add_argument("--skip-plain", action="store_true", help="leave out the plain encode runs")
    args = ap.parse_args()
    started = time.perf_counter()
    sample = texts(args.distinct) * args.repeat
    print(f"{len(sample)} texts generated in {time.perf_counter() - started:.1f} s", flush=True)
    embedder: Embedder = load_embedder()
    device, tokenizer = embedder.device, embedder.tokenizer
    if args.compile:
        embedder.model[0].auto_model = torch.compile(embedder.model[0].auto_model, dynamic=True)
    lengths = [len(e.ids) for e in tokenizer.encode_batch(sample[:args.distinct])] * args.repeat
    tokens = sum(lengths)
    useful = flops_per_text(lengths, embedder.model)
    print(f"device {embedder.device_name}, {os.cpu_count()} CPUs, torch {torch.__version__}, pipeline in "
          f"{embedder.precision}, default budget {embedder.token_budget} tokens a batch, attention "
          f"{getattr(embedder.model[0].auto_model.config, '_attn_implementation', '?')}")
    print(f"{len(sample)} texts, {tokens} tokens ({tokens / len(sample):.0f} a text), "
          f"{useful / tokens / 1e6:.1f} MFLOP a token, best of {args.rounds} rounds")
    rows: list[tuple[str, float]] = []

    def row(name: str, seconds: float) -> None:
        rows.append((name, seconds))
        print(f"{name:<34} {seconds:8.3f} s {len(sample) / seconds:10.0f} texts/s {tokens / seconds:12.0f} tokens/s "
              f"{useful / seconds / 1e12:8.2f} TFLOP/s ({100 * useful / seconds / 1e12 / args.peak_tflops:5.2f}% "
              f"of {args.peak_tflops:.0f})", flush=True)

    row("tokenise (encode_batch)", best_of(args.rounds, lambda: tokenizer.encode_batch(sample), "cpu"))
    row("tokenise + pad into batches", best_of(
        args.rounds, lambda: list(tokenized_batches(tokenizer, sample, embedder.token_budget,
                                                    chunk=GPU_TOKENIZE_CHUNK)), "cpu"))
    for budget in (int(b) for b in args.budgets.split(",")):
        batches = list(tokenized_batches(tokenizer, sample, budget))
        padded = sum(b.input_ids.size for b in batches)
        features = on_device(batches, device)
        row(f"compute {embedder.precision} budget {budget} ({len(batches)} b)",
            best_of(args.rounds, compute_only(embedder.model, features), device))
        print(f"{'':34} padding {100 * (padded / tokens - 1):.1f}% over real tokens", flush=True)
        del features
    fp32 = plain_model(embedder)
    features = on_device(list(tokenized_batches(tokenizer, sample, embedder.token_budget)), device)
    row(f"compute fp32 budget {embedder.token_budget}", best_of(args.rounds, compute_only(fp32, features), device))
    del features
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    row("pipeline embed()", best_of(args.rounds, lambda: embedder.embed(sample), device))
    if device.startswith("cuda"):
        print(f"{'':34} peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB", flush=True)
    if not args.skip_plain:
        row("plain encode fp32 (bs 32)", best_of(1, lambda: fp32.encode(sample), device))
        half = plain_model(embedder, half=device.startswith("cuda"))
        for size in PLAIN_BATCH_SIZES:
            row(f"plain encode {'fp16' if device.startswith('cuda') else 'fp32'} bs {size}",
                best_of(1, lambda s=size: half.encode(sample, batch_size=s), device))
    seconds = dict(rows)
    pipeline = seconds["pipeline embed()"]
    if not args.skip_plain:
        best_plain = min(s for n, s in rows if n.startswith("plain"))
        print(f"pipeline embed() vs plain fp32 encode x{seconds['plain encode fp32 (bs 32)'] / pipeline:.2f}, "
              f"vs best plain encode x{best_plain / pipeline:.2f}")
    stages = {n: s for n, s in rows if n.startswith(("tokenise + pad", f"compute {embedder.precision} budget "
                                                                          f"{embedder.token_budget} "))}
    bound = max(stages, key=lambda n: stages[n])
    print(f"slowest stage at the default budget: {bound} ({tokens / stages[bound]:.0f} tokens/s); "
          f"pipeline embed() reaches {100 * stages[bound] / pipeline:.0f}% of it")
    reference = fp32.encode(sample[:2000], normalize_embeddings=True)
    ours = embedder.embed(sample[:2000])
    lowest = float(np.min(np.sum(ours * reference, axis=1)))
    print(f"lowest cosine pipeline vs plain fp32 over 2000 texts: {lowest:.5f}")


if __name__ == "__main__":
    main()
