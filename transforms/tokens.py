"""Token counting with the embedding model's own tokenizer, so that no chunk is
longer than the model reads. Only the tokenizer file is loaded, not the model.

Which folder holds that tokenizer is not decided here: the embedder knows its
model (vectorstore/embedder.py) and the composition root passes the folder down,
to the faust worker as `TransformSettings.tokenizer_dir`."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from tokenizers import Tokenizer

from transforms.errors import TransformError

# Used when the folder's sentence_bert_config.json does not say (the bundled model's value).
DEFAULT_MAX_SEQ_LENGTH = 256


class TokenizerError(TransformError, RuntimeError):
    """The folder has no usable tokenizer."""


class TokenCounter(Protocol):
    """What the chunker needs: the length of a text in model tokens."""

    def count(self, text: str) -> int: ...

    def count_many(self, texts: list[str]) -> list[int]: ...


class TokenizerCounter:
    """A `TokenCounter` over the tokenizer.json of a sentence-transformers model folder."""

    def __init__(self, folder: Path) -> None:
        path = folder / "tokenizer.json"
        if not path.exists():
            raise TokenizerError(f"{folder} has no tokenizer.json; point AIFACTORY_EMBEDDING_MODEL at a "
                                 "sentence-transformers model folder")
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_truncation()
        self._tok.no_padding()
        config = folder / "sentence_bert_config.json"
        self.max_seq_length = int(json.loads(config.read_text()).get("max_seq_length", DEFAULT_MAX_SEQ_LENGTH)) \
            if config.exists() else DEFAULT_MAX_SEQ_LENGTH

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]


def token_counter(folder: str | Path) -> TokenizerCounter:
    """The counter of the tokenizer in `folder`, loaded once per process."""
    return _load(str(folder))


@lru_cache(maxsize=4)
def _load(folder: str) -> TokenizerCounter:
    return TokenizerCounter(Path(folder))
