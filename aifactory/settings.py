"""Settings composed from each layer's own, from the environment or explicitly."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.errors import SourceError
from ingest.settings import KafkaSettings
from ingest.sources import Source

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SOURCES = PROJECT_ROOT / "examples" / "sources.yaml"


class FactorySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIFACTORY_", extra="ignore")

    # One folder holds all embedded state: lake, index, logs.
    home: Path = Path(".aifactory")
    residency_policy: Path | None = None
    embedding_model: str | None = None
    embedding_device: str | None = None
    # How long a run waits for every published event to come out of the stream.
    stage_timeout_s: float = 600.0
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    @property
    def lake_root(self) -> Path:
        return self.home / "lake"

    @property
    def index_root(self) -> Path:
        return self.home / "index"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"


def load_sources(path: Path) -> list[Source]:
    """Sources from a YAML file: `sources: [{path, tenant, jurisdiction}, ...]`,
    paths relative to the file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [Source(root=path.parent / s["path"], tenant=s["tenant"], jurisdiction=s["jurisdiction"])
                for s in doc["sources"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise SourceError(f"cannot read sources file {path}: {exc!r}; it must be YAML with a 'sources' list "
                         "of {path, tenant, jurisdiction}") from exc
