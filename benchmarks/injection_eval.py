"""Prompt-injection screener evaluation on a labelled set (tests/data/injection_labelled.jsonl by default).

    python -m benchmarks.injection_eval [--threshold 0.5] [--data PATH] [--split dev|test] [--quiet]
                                        [--rules-only] [--in-chunks]

Runs `transforms.injection.screen` on every line and prints precision, recall, F1 and the benign
false-positive rate (share of clean texts quarantined) at the threshold, recall per attack kind
(and the false-positive rate per clean kind), a sweep of thresholds from 0.3 to 0.8, and every
misclassified text with its score and reasons.

--split keeps only the lines whose `split` field equals it (lines without one are kept only when
no --split is given), so a set can hold a dev part to tune on and a test part to measure once.
--quiet prints the figures only: no misclassified texts, so a held-out part can be measured
without reading it. --rules-only leaves the learned model out (`rules_screen`). --in-chunks
screens each line inside ~120 words of ordinary enterprise text, as a chunk would hold it.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from transforms.injection import DEFAULT_THRESHOLD, Screening, rules_screen, screen, screener_version

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "injection_labelled.jsonl"
SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass(frozen=True)
class Example:
    text: str
    injection: bool
    kind: str
    split: str | None = None


def load(path: Path = DATA, split: str | None = None) -> list[Example]:
    """The labelled lines of `path`; with `split`, only those whose `split` field equals it."""
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    examples = [Example(r["text"], bool(r["injection"]), r["kind"], r.get("split")) for r in rows]
    return examples if split is None else [e for e in examples if e.split == split]


def in_chunks(examples: list[Example], seed: int = 5) -> list[Example]:
    """Each line as the middle of a chunk: up to 60 words of an enterprise-qa paragraph before
    and after it, joined by newlines as the chunker joins a document's lines."""
    import random

    corpus = ROOT / "benchmarks" / "data" / "enterprise-qa" / "corpus.jsonl"
    paragraphs = [p for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()
                  for p in json.loads(line)["text"].split("\n") if len(p.split()) > 20]
    rng = random.Random(seed)

    def around(text: str) -> str:
        before, after = rng.choice(paragraphs).split()[:60], rng.choice(paragraphs).split()[:60]
        return f"{' '.join(before)}\n{text}\n{' '.join(after)}"

    return [Example(around(e.text), e.injection, e.kind, e.split) for e in examples]


def figures(examples: list[Example], results: list[Screening], threshold: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of `quarantined(threshold)` against the labels."""
    tp = sum(1 for e, r in zip(examples, results, strict=True) if e.injection and r.quarantined(threshold))
    fp = sum(1 for e, r in zip(examples, results, strict=True) if not e.injection and r.quarantined(threshold))
    fn = sum(1 for e, r in zip(examples, results, strict=True) if e.injection and not r.quarantined(threshold))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def false_positive_rate(examples: list[Example], results: list[Screening], threshold: float) -> float:
    """Share of the clean texts that `quarantined(threshold)` would hold back."""
    clean = [r for e, r in zip(examples, results, strict=True) if not e.injection]
    return sum(r.quarantined(threshold) for r in clean) / len(clean) if clean else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--split", choices=("dev", "test"), default=None,
                    help="keep only lines with this split (lines without a split are then left out)")
    ap.add_argument("--quiet", action="store_true", help="print the figures only, no misclassified texts")
    ap.add_argument("--rules-only", action="store_true", help="the rules alone, without the learned model")
    ap.add_argument("--in-chunks", action="store_true",
                    help="put each line between two paragraphs of ordinary text, as it would sit in a chunk")
    args = ap.parse_args()

    examples = load(args.data, args.split)
    if args.in_chunks:
        examples = in_chunks(examples)
    if not examples:
        raise SystemExit(f"no lines in {args.data} with split {args.split!r}")
    results = [(rules_screen if args.rules_only else screen)(e.text) for e in examples]
    positives = sum(e.injection for e in examples)
    where = f" (split {args.split})" if args.split else ""
    version = screener_version(learned=not args.rules_only)
    print(f"screener {version}: {args.data.name}{where}: {len(examples)} texts, {positives} injections, "
          f"{len(examples) - positives} clean, threshold {args.threshold}")
    precision, recall, f1 = figures(examples, results, args.threshold)
    fpr = false_positive_rate(examples, results, args.threshold)
    print(f"precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  benign FP rate {fpr:.3f}\n")

    print("per kind (attack kinds: share quarantined = recall; clean kinds: share quarantined = false alarms)")
    for kind in sorted({e.kind for e in examples}):
        pairs = [(e, r) for e, r in zip(examples, results, strict=True) if e.kind == kind]
        flagged = sum(r.quarantined(args.threshold) for _, r in pairs)
        label = "attack" if pairs[0][0].injection else "clean"
        print(f"  {kind:<20} {label:<6} {flagged:>3}/{len(pairs):<3} quarantined  ({flagged / len(pairs):.2f})")

    print("\nthreshold sweep")
    print("  threshold  precision  recall  F1     benign FP")
    for threshold in SWEEP:
        sweep_p, sweep_r, sweep_f = figures(examples, results, threshold)
        sweep_fpr = false_positive_rate(examples, results, threshold)
        print(f"  {threshold:>9.2f}  {sweep_p:>9.3f}  {sweep_r:>6.3f}  {sweep_f:.3f}  {sweep_fpr:.3f}")

    wrong = [(e, r) for e, r in zip(examples, results, strict=True) if e.injection != r.quarantined(args.threshold)]
    print(f"\nmisclassified at {args.threshold}: {len(wrong)}")
    if args.quiet:
        return
    for e, result in wrong:
        label = "missed" if e.injection else "false alarm"
        print(f"- {label} [{e.kind}] score {result.score:.3f}: {e.text[:160]!r}")
        for reason in result.reasons:
            print(f"    {reason}")


if __name__ == "__main__":
    main()
