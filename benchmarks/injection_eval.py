"""Prompt-injection screener evaluation on the labelled set in tests/data/injection_labelled.jsonl.

    python -m benchmarks.injection_eval [--threshold 0.5] [--data PATH]

Runs `transforms.injection.screen` on every line and prints precision, recall and F1 at the
threshold, recall per attack kind (and the false-positive rate per negative kind), a sweep
of thresholds from 0.3 to 0.8, and every misclassified text with its score and reasons.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from transforms.injection import DEFAULT_THRESHOLD, SCREENER_VERSION, Screening, screen

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "injection_labelled.jsonl"
SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass(frozen=True)
class Example:
    text: str
    injection: bool
    kind: str


def load(path: Path = DATA) -> list[Example]:
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [Example(r["text"], bool(r["injection"]), r["kind"]) for r in rows]


def figures(examples: list[Example], results: list[Screening], threshold: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of `quarantined(threshold)` against the labels."""
    tp = sum(1 for e, r in zip(examples, results, strict=True) if e.injection and r.quarantined(threshold))
    fp = sum(1 for e, r in zip(examples, results, strict=True) if not e.injection and r.quarantined(threshold))
    fn = sum(1 for e, r in zip(examples, results, strict=True) if e.injection and not r.quarantined(threshold))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()

    examples = load(args.data)
    results = [screen(e.text) for e in examples]
    positives = sum(e.injection for e in examples)
    print(f"screener {SCREENER_VERSION}: {len(examples)} texts, {positives} injections, "
          f"{len(examples) - positives} clean, threshold {args.threshold}")
    precision, recall, f1 = figures(examples, results, args.threshold)
    print(f"precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}\n")

    print("per kind (attack kinds: share quarantined = recall; clean kinds: share quarantined = false alarms)")
    for kind in sorted({e.kind for e in examples}):
        pairs = [(e, r) for e, r in zip(examples, results, strict=True) if e.kind == kind]
        flagged = sum(r.quarantined(args.threshold) for _, r in pairs)
        print(f"  {kind:<14} {flagged:>3}/{len(pairs):<3} quarantined  ({flagged / len(pairs):.2f})")

    print("\nthreshold sweep")
    print("  threshold  precision  recall  F1")
    for threshold in SWEEP:
        sweep_p, sweep_r, sweep_f = figures(examples, results, threshold)
        print(f"  {threshold:>9.2f}  {sweep_p:>9.3f}  {sweep_r:>6.3f}  {sweep_f:.3f}")

    wrong = [(e, r) for e, r in zip(examples, results, strict=True) if e.injection != r.quarantined(args.threshold)]
    print(f"\nmisclassified at {args.threshold}: {len(wrong)}")
    for e, result in wrong:
        label = "missed" if e.injection else "false alarm"
        print(f"- {label} [{e.kind}] score {result.score:.3f}: {e.text[:160]!r}")
        for reason in result.reasons:
            print(f"    {reason}")


if __name__ == "__main__":
    main()
