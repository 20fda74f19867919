"""PII detector evaluation on the labelled set in tests/data/pii_labelled.jsonl.

    python -m benchmarks.pii_eval [--data PATH] [--split dev|test]

Runs `governance.pii.detect` on every line and prints precision, recall and F1 per kind
and overall, then every false positive and false negative (kind and text). A finding is a
true positive when its kind and the exact text of its span match a labelled value.

`--split` keeps only the lines whose `split` field is that value (lines without one are
left out); without it every line counts. When lines carry a `note`, the e-mail recall of
each note that names obfuscation is printed too, and that of all other notes together.
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
    note_tp: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, note) -> found
    note_fn: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, note) -> missed

    def note_recall(self, kind: str, notes: set[str]) -> tuple[float, int]:
        """Recall and support of `kind` on the lines with one of these notes."""
        tp, fn = (sum(c[(kind, n)] for n in notes) for c in (self.note_tp, self.note_fn))
        return (tp / (tp + fn) if tp + fn else 1.0), tp + fn

    def notes(self, kind: str) -> set[str]:
        """The notes of the lines that label `kind`."""
        return {n for k, n in self.note_tp | self.note_fn if k == kind}

    def figures(self, kind: str | None = None) -> tuple[float, float, float, int]:
        """Precision, recall, F1 and support for one kind, or overall when kind is None."""
        kinds = PII_KINDS if kind is None else (kind,)
        tp, fp, fn = (sum(c[k] for k in kinds) for c in (self.tp, self.fp, self.fn))
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1, tp + fn


def load(path: Path = DATA, split: str | None = None) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return rows if split is None else [row for row in rows if row.get("split") == split]


def evaluate(rows: list[dict]) -> Score:
    score = Score()
    for row in rows:
        note = row.get("note")
        text = row["text"]
        # Multisets, so a value labelled twice on one line must be found twice.
        expected = Counter((p["kind"], p["value"]) for p in row["pii"])
        found = Counter((f.kind, text[f.start : f.end]) for f in detect(text))
        for (kind, _value), n in (found & expected).items():
            score.tp[kind] += n
            if note is not None:
                score.note_tp[(kind, note)] += n
        for (kind, value), n in (found - expected).items():
            score.fp[kind] += n
            score.false_positives += [(kind, value, text)] * n
        for (kind, value), n in (expected - found).items():
            score.fn[kind] += n
            if note is not None:
                score.note_fn[(kind, note)] += n
            score.false_negatives += [(kind, value, text)] * n
    return score


def report(score: Score, n_lines: int) -> str:
    lines = [f"{n_lines} labelled lines", "", f"{'kind':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}"]
    for kind in (*PII_KINDS, None):
        p, r, f1, support = score.figures(kind)
        lines.append(f"{kind or 'overall':<12} {p:>9.3f} {r:>7.3f} {f1:>6.3f} {support:>8}")
    notes = score.notes("email")
    if notes:
        obfuscated = sorted(n for n in notes if "obfuscat" in n.lower())
        groups = [(n, {n}) for n in obfuscated] + [("(all other notes)", notes - set(obfuscated))]
        lines += ["", f"{'email recall by note':<40} {'recall':>7} {'support':>8}"]
        for name, group in groups:
            r, support = score.note_recall("email", group)
            lines.append(f"{name[:40]:<40} {r:>7.3f} {support:>8}")
    for title, mistakes in (("False positives", score.false_positives), ("False negatives", score.false_negatives)):
        lines += ["", f"{title} ({len(mistakes)}):"]
        lines += [f"  {kind:<12} {value!r:<40} in {text!r}" for kind, value, text in mistakes] or ["  none"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--split", choices=("dev", "test"), help="only the lines of this split")
    args = ap.parse_args()
    rows = load(args.data, args.split)
    print(report(evaluate(rows), len(rows)))


if __name__ == "__main__":
    main()
