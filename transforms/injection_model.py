"""The screener's learned second opinion: a logistic regression over character and word
n-grams (TF-IDF), trained by `benchmarks/injection_train.py` on the labelled sets of
twenty-five authors, with ordinary enterprise text and technical prose as further negatives.

The rules catch what they were written for; they caught only 0.24-0.45 of each new author's
attacks. The n-grams carry what the authors share instead (an address to the reader, an
order, a secret asked for), in any wording. Texts under `min_words` words are
left to the rules: a title holds too little for the model to tell. A longer text is judged
in overlapping windows of a few sentences, and its strongest window counts.

Scoring is plain Python over the shipped weights (`injection_model.json.gz`), so the worker
needs no scikit-learn; the arithmetic is scikit-learn's (TfidfVectorizer with sublinear tf
and l2 norm, then the logistic function), and a unit test holds the two equal.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL_PATH = Path(__file__).with_name("injection_model.json.gz")
_WHITE_SPACES = re.compile(r"\s\s+")
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_DIGIT = re.compile(r"\d")


def fold(text: str) -> str:
    """Lower case, every digit as 0 (the vectorizers' preprocessor): a ticket or note number
    carries no sign of an attack, but the weights of the numbers a training set happened to
    hold moved a short note across the threshold by its number alone."""
    return _DIGIT.sub("0", text.lower())


def char_wb_ngrams(text: str, low: int, high: int) -> Iterable[str]:
    """scikit-learn's `char_wb` analyzer: n-grams inside each space-padded word."""
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) <= n:
                yield padded  # a word no longer than n counts once, whole
                break
            for i in range(len(padded) - n + 1):
                yield padded[i: i + n]


def word_ngrams(text: str, low: int, high: int) -> Iterable[str]:
    """scikit-learn's `word` analyzer with its default token pattern."""
    tokens = _TOKEN.findall(text.lower())
    for n in range(low, high + 1):
        for i in range(len(tokens) - n + 1):
            yield " ".join(tokens[i: i + n])


@dataclass(frozen=True)
class _Table:
    """One vectorizer's vocabulary: n-gram -> column, with each column's idf and coefficient."""
    index: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray

    @classmethod
    def of(cls, entries: dict[str, list[float]]) -> _Table:
        grams = sorted(entries)
        return cls({g: i for i, g in enumerate(grams)}, np.array([entries[g][0] for g in grams], dtype=np.float64),
                   np.array([entries[g][1] for g in grams], dtype=np.float64))

    def columns(self, grams: Iterable[str]) -> list[int]:
        return [i for i in map(self.index.get, grams) if i is not None]

    def dot(self, columns: list[int]) -> float:
        """coef . tfidf: sublinear tf times idf, l2-normalised over the known n-grams."""
        if not columns:
            return 0.0
        cols, counts = np.unique(np.asarray(columns), return_counts=True)
        values = (1.0 + np.log(counts)) * self.idf[cols]
        return float(values @ self.coef[cols] / math.sqrt(float(values @ values)))


@dataclass(frozen=True, eq=False)  # hashed by identity, for the cache of word n-grams
class NgramModel:
    version: str
    char_range: tuple[int, int]
    word_range: tuple[int, int]
    char: _Table
    word: _Table
    intercept: float
    threshold: float  # probability at which the model flags a text on its own
    min_words: int
    window: int
    fold_digits: bool = False  # ngram-lr-1 was trained without `fold`

    def prepared(self, text: str) -> str:
        return fold(text) if self.fold_digits else text

    def probability(self, text: str) -> float:
        """The model's probability that `text` is an injection."""
        text = self.prepared(text)
        return self._probability(self.char.columns(char_wb_ngrams(text, *self.char_range)), text)

    def strongest(self, text: str) -> float:
        """The highest probability among windows of `window` words, `window // 2` apart (the
        whole text when it is shorter; 0.0 when it has under `min_words` words). Windows,
        because the model learned on passages of a few sentences: a long chunk would dilute
        an attack in it, and a lone list item or heading holds too little to judge."""
        words = self.prepared(text).split()
        if len(words) < self.min_words:
            return 0.0
        known = {w: self._word_columns(w) for w in set(words)}  # char_wb n-grams never cross a word
        step = self.window // 2
        last = max(len(words) - self.window, 0)
        best = 0.0
        for start in [*range(0, last, step), last]:  # the last window ends with the text
            span = words[start: start + self.window]
            best = max(best, self._probability([c for w in span for c in known[w]], " ".join(span)))
        return best

    @lru_cache(maxsize=100_000)  # noqa: B019 - the model lives as long as the process; words recur
    def _word_columns(self, word: str) -> list[int]:
        return self.char.columns(char_wb_ngrams(word, *self.char_range))

    def _probability(self, char_columns: list[int], text: str) -> float:
        z = self.intercept + self.char.dot(char_columns) \
            + self.word.dot(self.word.columns(word_ngrams(text, *self.word_range)))
        return 1.0 / (1.0 + math.exp(-z))


def from_dict(data: dict[str, Any]) -> NgramModel:
    return NgramModel(
        version=data["version"], char_range=tuple(data["char_range"]), word_range=tuple(data["word_range"]),
        char=_Table.of(data["char"]), word=_Table.of(data["word"]),
        intercept=data["intercept"], threshold=data["threshold"], min_words=data["min_words"],
        window=data["window"], fold_digits=bool(data.get("fold_digits", False)))


@lru_cache(maxsize=2)
def load(path: Path = MODEL_PATH) -> NgramModel:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return from_dict(json.load(f))
