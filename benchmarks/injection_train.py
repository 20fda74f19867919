"""Train the screener's learned second opinion (`transforms/injection_model.py`).

    python -m benchmarks.injection_train --loso       # how it does on each author it did not see
    python -m benchmarks.injection_train              # write transforms/injection_model.json.gz

Training lines: the labelled injection sets of twenty-five authors (`SETS`, in `tests/data/`;
`TEST_SETS`, nine more authors, are kept for measuring and never trained on), and ordinary
text as further negatives (`NEGATIVES`, in `benchmarks/data/injection/`): enterprise passages
and short records (`benchmarks/injection_records.py`) written for this, and Python
standard-library docstrings weighed 0.3. Features: TF-IDF over character n-grams (2-5, within
words) and word n-grams (1-2), lower case with every digit as 0; a class-balanced logistic
regression.

--loso trains on all authors but one and measures on that one, for each author, with the
rules beside (the rules were tuned on the first three sets, so on those only the false alarms
say something). The threshold shipped is the lowest at which the mean false-alarm rate on the
unseen authors' look-alikes stays at or under 5% and the model flags at most 1% of ordinary
texts it never trained on (`validation`). Needs scikit-learn (a dependency of
sentence-transformers); the product does not.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.injection_eval import Example, load
from transforms.injection_model import MODEL_PATH, fold, from_dict

ROOT = Path(__file__).resolve().parents[1]
SETS = ("injection_labelled", "injection_holdout", "injection_independent",
        *(f"injection_heldout{n}" for n in (*range(2, 12), *range(15, 27))))
# Kept for measuring: never trained on, nor used to choose anything.
# 27-32 were written after the shipped model was trained. Trained on as well (31 authors), the
# threshold rule chose 0.75 and recall on 12-14 fell to 0.871-0.880: more authors no longer help.
TEST_SETS = tuple(f"injection_heldout{n}" for n in (12, 13, 14, *range(27, 33)))
ORDINARY = ROOT / "benchmarks" / "data" / "injection"
# Ordinary text as further negatives, with its weight: enterprise passages and short records
# written for this (ordinary_1, ordinary_2, records_train), and Python docstrings, weighed less
# so that their style does not become "what is not an attack". ordinary_3 and records_check are
# kept for choosing the threshold.
NEGATIVES = (("ordinary_1.jsonl", 1.0), ("ordinary_2.jsonl", 1.0), ("records_train.jsonl", 1.0),
             ("stdlib_docstrings.jsonl", 0.3))
VALIDATION = ("ordinary_3.jsonl", "records_check.jsonl", "package_docstrings.jsonl")
TARGET_ORDINARY_ALARMS = 0.01
CHAR_RANGE, WORD_RANGE = (2, 5), (1, 2)
MIN_WORDS = 10  # shorter texts (titles, list items) hold too few n-grams to judge
WINDOW = 50  # words; most training lines are shorter
C = 10.0
CANDIDATES = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
TARGET_FALSE_ALARMS = 0.05
VERSION = "ngram-lr-2"


def sets() -> dict[str, list[Example]]:
    return {name: load(ROOT / "tests" / "data" / f"{name}.jsonl") for name in SETS}


def _texts(name: str) -> list[str]:
    lines = (ORDINARY / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def negatives() -> list[tuple[str, float]]:
    """Ordinary texts to train on, each with its sample weight."""
    return [(text, weight) for name, weight in NEGATIVES for text in _texts(name)]


def validation() -> list[str]:
    """Ordinary texts never trained on: the held-back passages, package docstrings, and the
    chunks of the enterprise-qa corpus and of the bundled sample corpus as the chunker cuts them."""
    from ingest.parsers import file_format, parse
    from transforms.chunking import chunk, normalise
    from transforms.tokens import token_counter
    from vectorstore.embedder import default_model_path

    counter = token_counter(default_model_path())
    texts = [t for name in VALIDATION for t in _texts(name)]
    corpus = ROOT / "benchmarks" / "data" / "enterprise-qa" / "corpus.jsonl"
    for line in corpus.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        texts += [c.text for c in chunk(normalise(f"{doc['title']}\n{doc['text']}"), counter)]
    for path in sorted((ROOT / "examples" / "corpus").rglob("*")):
        if path.is_file() and file_format(path.name):
            texts += [c.text for d in parse(path.name, path.read_bytes()) for c in chunk(normalise(d.text), counter)]
    return texts


def train(examples: list[Example], ordinary: list[tuple[str, float]]) -> tuple[Any, Any, Any]:
    """The two fitted vectorizers and the logistic regression."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [e.text for e in examples] + [text for text, _ in ordinary]
    labels = [e.injection for e in examples] + [False] * len(ordinary)
    weights = [1.0] * len(examples) + [weight for _, weight in ordinary]
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_RANGE, sublinear_tf=True, min_df=2, dtype=np.float64,
                           preprocessor=fold)
    word = TfidfVectorizer(analyzer="word", ngram_range=WORD_RANGE, sublinear_tf=True, min_df=2, dtype=np.float64,
                           preprocessor=fold)
    features = hstack([char.fit_transform(texts), word.fit_transform(texts)]).tocsr()
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    model.fit(features, labels, sample_weight=weights)
    return char, word, model


def export(char: Any, word: Any, model: Any, threshold: float, trained_on: dict[str, Any]) -> dict[str, Any]:
    """The fitted parts as the dict `transforms.injection_model.from_dict` reads."""
    coef = model.coef_[0]

    def table(vectorizer: Any, offset: int) -> dict[str, list[float]]:
        return {gram: [round(float(vectorizer.idf_[i]), 6), round(float(coef[offset + i]), 6)]
                for gram, i in sorted(vectorizer.vocabulary_.items())}

    return {"version": VERSION, "char_range": list(CHAR_RANGE), "word_range": list(WORD_RANGE),
            "char": table(char, 0), "word": table(word, len(char.vocabulary_)),
            "intercept": round(float(model.intercept_[0]), 6), "threshold": threshold, "min_words": MIN_WORDS,
            "window": WINDOW, "fold_digits": True,
            "trained_on": trained_on}


def fit(examples: list[Example], ordinary: list[tuple[str, float]], threshold: float) -> dict[str, Any]:
    """Train on `examples` plus `ordinary` negatives; the model as a dict."""
    trained_on = {"labelled lines": len(examples), "ordinary lines": len(ordinary),
                  "ordinary": {name: weight for name, weight in NEGATIVES}}
    return export(*train(examples, ordinary), threshold, trained_on)


def leave_one_author_out() -> dict[float, float]:
    """Print each unseen author's figures per threshold; return the mean false-alarm rate on
    the unseen authors' look-alikes at each threshold."""
    from transforms.injection import rules_screen

    by_set, ordinary = sets(), negatives()
    false_alarms: dict[float, list[float]] = {t: [] for t in CANDIDATES}
    for held, lines in by_set.items():
        train = [e for name, other in by_set.items() if name != held for e in other]
        model = from_dict(fit(train, ordinary, 0.5))
        rules = [rules_screen(e.text).quarantined() for e in lines]
        probs = [model.strongest(e.text) for e in lines]
        attacks = [i for i, e in enumerate(lines) if e.injection]
        benign = [i for i, e in enumerate(lines) if not e.injection]
        print(f"unseen: {held} ({len(attacks)} injections, {len(benign)} look-alikes); rules alone: recall "
              f"{np.mean([rules[i] for i in attacks]):.3f}, false alarms {np.mean([rules[i] for i in benign]):.3f}")
        for t in CANDIDATES:
            flagged = [r or p >= t for r, p in zip(rules, probs, strict=True)]
            fa = float(np.mean([flagged[i] for i in benign]))
            false_alarms[t].append(fa)
            print(f"  threshold {t:.2f}: recall {np.mean([flagged[i] for i in attacks]):.3f} (model alone "
                  f"{np.mean([probs[i] >= t for i in attacks]):.3f}), false alarms {fa:.3f}")
    means = {t: float(np.mean(v)) for t, v in false_alarms.items()}
    print("mean false alarms on unseen authors' look-alikes: "
          + ", ".join(f"{t:.2f}: {v:.3f}" for t, v in means.items()))
    return means


def ordinary_alarms(data: dict[str, Any]) -> dict[float, float]:
    """The share of the validation's ordinary texts the model alone flags, per threshold."""
    model, texts = from_dict(data), validation()
    probs = [model.strongest(t) for t in texts]
    means = {t: float(np.mean([p >= t for p in probs])) for t in CANDIDATES}
    print(f"ordinary texts flagged ({len(texts)}, never trained on): "
          + ", ".join(f"{t:.2f}: {v:.3f}" for t, v in means.items()))
    return means


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loso", action="store_true", help="measure on each unseen author, then write nothing")
    ap.add_argument("--threshold", type=float, default=None, help="skip the measurements that choose it")
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    args = ap.parse_args()
    look_alikes = leave_one_author_out() if args.threshold is None else {}
    if args.loso:
        return
    data = fit([e for lines in sets().values() for e in lines], negatives(), args.threshold or 0.5)
    data["trained_on"]["sets"] = list(SETS)
    if args.threshold is None:
        ordinary = ordinary_alarms(data)
        data["threshold"] = next((t for t in CANDIDATES if look_alikes[t] <= TARGET_FALSE_ALARMS
                                  and ordinary[t] <= TARGET_ORDINARY_ALARMS), CANDIDATES[-1])
        print(f"chosen threshold: {data['threshold']:.2f}, the lowest with at most {TARGET_FALSE_ALARMS:.0%} of "
              f"unseen authors' look-alikes and {TARGET_ORDINARY_ALARMS:.0%} of ordinary texts flagged")
    with gzip.GzipFile(args.out, "wb", mtime=0) as f:  # mtime 0: the same training writes the same bytes
        f.write(json.dumps(data, ensure_ascii=False, sort_keys=True).encode())
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB): {len(data['char'])} character and "
          f"{len(data['word'])} word n-grams, threshold {data['threshold']}")


if __name__ == "__main__":
    main()
