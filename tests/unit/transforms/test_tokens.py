"""The chunker counts with whatever `TokenCounter` it is given; which tokenizer folder
that is comes from above (the embedder's model), down to the worker through its settings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from ingest.settings import KafkaSettings
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from transforms.app import create_app
from transforms.chunking import chunk
from transforms.settings import TransformSettings
from transforms.tokens import TokenCounter, TokenizerCounter, TokenizerError, token_counter
from vectorstore.embedder import Fingerprint, default_model_path


class Words:
    """One token a word: a counter that is not a tokenizer."""

    def count(self, text: str) -> int:
        return len(text.split())

    def count_many(self, texts: list[str]) -> list[int]:
        return [self.count(t) for t in texts]


def test_the_chunker_measures_with_the_counter_it_is_given() -> None:
    counter: TokenCounter = Words()
    text = "\n".join(" ".join(f"w{line}-{i}" for i in range(10)) for line in range(30))
    pieces = chunk(text, counter, max_tokens=40, overlap=0)
    assert len(pieces) > 1
    assert all(p.tokens == len(p.text.split()) <= 40 for p in pieces)


def test_a_counter_is_loaded_once_per_folder_however_it_is_named() -> None:
    folder = default_model_path()
    counter = token_counter(folder)
    assert isinstance(counter, TokenizerCounter)
    assert token_counter(str(folder)) is counter
    assert counter.count("hello world") == 2 and counter.max_seq_length == 256


def test_a_folder_without_a_tokenizer_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match=re.escape(f"{tmp_path} has no tokenizer.json")):
        token_counter(tmp_path)


def test_the_worker_refuses_to_start_without_a_tokenizer_folder() -> None:
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:9092")
    with pytest.raises(TokenizerError, match="AIFACTORY_TOKENIZER_DIR"):
        create_app(settings, settings.bootstrap_servers, "epoch", TransformSettings())


def test_the_worker_counts_with_the_embedders_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    factory = Factory(FactorySettings(home=tmp_path / "home"))
    env = factory.transform_env()
    assert Path(env["AIFACTORY_TOKENIZER_DIR"]) == default_model_path().resolve()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert TransformSettings().tokenizer_dir == default_model_path().resolve()
    # After a reindex the active model is the embedder's, and so the chunker's.
    other = tmp_path / "other-model"
    fp = Fingerprint(name="other-model", weights_sha256="0" * 64, dimension=384, normalized=True)
    factory.activate(SimpleNamespace(fingerprint=fp, model_path=str(other)))  # type: ignore[arg-type]
    assert json.loads((factory.settings.index_root / "active-model.json").read_text())["model"] == str(other)
    assert factory.transform_env()["AIFACTORY_TOKENIZER_DIR"] == str(other.resolve())
