"""PII detector evaluation on the labelled set in tests/data/pii_labelled.jsonl.

    python -m benchmarks.pii_eval [--data PATH]

Runs `transforms.pii.detect` on every line and prints precision, recall and F1 per kind
and overall, then every false positive and false negative (kind and text). A finding is a
true positive when its kind and the exact text of its span match a labelled value.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from governance.pii import PII_KINDS, detect

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pii_labelled.jsonl"


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)  # kind, value, line
    false_negatives: list[tuple[str, str, str]] = field(default_factory=list)

    def figures(self, kind: str | None = None) -> tuple[float, float, float, int]:
        """Precision, recall, F1 and support for one kind, or overall when kind is None."""
        kinds = PII_KINDS if kind is None else (kind,)
        tp, fp, fn = (sum(c[k] for k in kinds) for c in (self.tp, self.fp, self.fn))
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1, tp + fn


def load(path: Path = DATA) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate(rows: list[dict]) -> Score:
    score = Score()
    for row in rows:
        text = row["text"]
        # Multisets, so a value labelled twice on one line must be found twice.
        expected = Counter((p["kind"], p["value"]) for p in row["pii"])
        found = Counter((f.kind, text[f.start : f.end]) for f in detect(text))
        for (kind, _value), n in (found & expected).items():
            score.tp[kind] += n
        for (kind, value), n in (found - expected).items():
            score.fp[kind] += n
            score.false_positives += [(kind, value, text)] * n
        for (kind, value), n in (expected - found).items():
            score.fn[kind] += n
            score.false_negatives += [(kind, value, text)] * n
    return score


def report(score: Score, n_lines: int) -> str:
    lines = [f"{n_lines} labelled lines", "", f"{'kind':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}"]
    for kind in (*PII_KINDS, None):
        p, r, f1, support = score.figures(kind)
        lines.append(f"{kind or 'overall':<12} {p:>9.3f} {r:>7.3f} {f1:>6.3f} {support:>8}")
    for title, mistakes in (("False positives", score.false_positives), ("False negatives", score.false_negatives)):
        lines += ["", f"{title} ({len(mistakes)}):"]
        lines += [f"  {kind:<12} {value!r:<40} in {text!r}" for kind, value, text in mistakes] or ["  none"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    rows = load(args.data)
    print(report(evaluate(rows), len(rows)))


if __name__ == "__main__":
    main()
