"""Settings composed from each layer's own, from the environment or explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.errors import SourceError
from ingest.lake_store import URL_VARIABLE, LakeStore, check_url, parse_region_urls
from ingest.limits import Limits
from ingest.records import RecordFields
from ingest.settings import KafkaSettings
from ingest.sources import Source
from transforms.settings import TransformSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SOURCES = PROJECT_ROOT / "examples" / "sources.yaml"


class FactorySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIFACTORY_", extra="ignore", populate_by_name=True)

    # One folder holds all embedded state: lake, index, logs.
    home: Path = Path(".aifactory")
    residency_policy: Path | None = None
    price_book: Path | None = None
    # Per-tenant quotas (governance/quotas.py), read again whenever the file changes; unset:
    # <home>/governance/quotas.yaml when it exists, else no quotas.
    quotas: Path | None = None
    # Carbon intensity per region over time: a CSV file or URL (governance/carbon.py); empty:
    # a flat default, for the ledger's emission estimates and the placing of deferrable work.
    carbon_intensity: str = ""
    # The region this process computes in (its host or device pool): it embeds only chunks whose
    # jurisdiction allows that region, and leaves the rest for a worker of an allowed region.
    # Empty: unrestricted, recorded as unknown ("") in the ledger and the residency report.
    compute_region: str = ""
    # Encryption at rest (governance/sealing.py): text, titles, sections and metadata values sealed with
    # per-tenant keys in the Kafka log, the lake, the index and dead-letter copies. Every process of a
    # home must agree.
    encryption: bool = False
    # Where the local key manager keeps tenants' master keys: outside the data directory, and
    # backed up apart from it. Unset: ~/.config/aifactory/kms. One folder per home inside.
    kms_dir: Path | None = None
    embedding_model: str | None = None
    embedding_device: str | None = None
    # torch, or onnx: ONNX Runtime on the CPU, exported once into <home>/models
    embedding_backend: str = "torch"
    # torch path: auto (fp16 on a GPU, bf16 on a CPU that has it natively, else fp32), fp32, bf16, fp16
    embedding_precision: str = "auto"
    # How long a run waits for every published event to come out of the stream.
    stage_timeout_s: float = 600.0
    # A write (run, ingest, delete, ...) while another is in progress waits its turn; false: refuse at once.
    writer_wait: bool = True
    # A Qdrant server or cluster; empty uses the embedded Qdrant Edge under `home`.
    qdrant_url: str = Field(default="", validation_alias="QDRANT_URL")
    # OpenLineage events go to this Marquez-compatible endpoint; empty: a file under home.
    openlineage_url: str = Field(default="", validation_alias="OPENLINEAGE_URL")
    # The lake on object storage (s3://bucket/prefix); empty: <home>/lake. Credentials and
    # endpoint come from the store's own variables (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ...).
    lake_url: str = ""
    # region=url,...: each region's lake files in a bucket or prefix of its own; a region
    # it does not name is refused (ingest/lake_store.py).
    lake_region_urls: str = ""
    qdrant_api_key: SecretStr = Field(default=SecretStr(""), validation_alias="QDRANT_API_KEY")
    # region=url,...: each region's collections on a cluster of its own (vectorstore/placement.py);
    # a region it does not name is refused. Keys per region, else QDRANT_API_KEY.
    qdrant_region_urls: str = Field(default="", validation_alias="QDRANT_REGION_URLS")
    qdrant_region_api_keys: SecretStr = Field(default=SecretStr(""), validation_alias="QDRANT_REGION_API_KEYS")
    # Vectors of each new collection (Edge shard or server collection): none (float32), or int8
    # (scalar quantisation in RAM, rescored on the float vectors; README "Search at scale").
    index_quantization: Literal["none", "int8"] = "none"
    # Shards and replicas of each new collection on a Qdrant cluster; unset: the server's default.
    qdrant_shards: int | None = Field(default=None, ge=1, validation_alias="QDRANT_SHARDS")
    qdrant_replication: int | None = Field(default=None, ge=1, validation_alias="QDRANT_REPLICATION")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    transforms: TransformSettings = Field(default_factory=TransformSettings)
    limits: Limits = Field(default_factory=Limits)

    @field_validator("qdrant_region_urls", mode="after")
    @classmethod
    def _placement(cls, urls: str) -> str:
        from vectorstore.placement import parse_map

        parse_map(urls, "QDRANT_REGION_URLS")  # raises a ValueError naming the variable
        return urls

    @field_validator("lake_url", mode="after")
    @classmethod
    def _lake_url(cls, url: str) -> str:
        if url.strip():
            check_url(url.strip(), URL_VARIABLE)  # raises a ValueError naming the variable
        return url.strip()

    @field_validator("lake_region_urls", mode="after")
    @classmethod
    def _lake_places(cls, urls: str) -> str:
        parse_region_urls(urls)
        return urls

    def lake_store(self) -> LakeStore:
        return LakeStore(self.lake_root, url=self.lake_url, region_urls=parse_region_urls(self.lake_region_urls))

    @property
    def qdrant_server(self) -> bool:
        """Whether the index is on Qdrant servers (QDRANT_URL or QDRANT_REGION_URLS), not embedded."""
        return bool(self.qdrant_url.strip() or self.qdrant_region_urls.strip())

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, home: Path) -> Path:
        # Every path derived from home ends up in file URIs, logs and child processes
        # with another working directory: fix it once, relative to where the command ran.
        return home.expanduser().absolute()

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
    """Sources from a YAML file, paths relative to the file:

        sources:
          - {path: corpus/helio-eu, tenant: helio-eu, jurisdiction: EU}
          - path: exports/products
            tenant: helio-us
            jurisdiction: US
            fields: {id: sku, title: name, text: [summary, details], metadata: [price]}
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [Source(root=path.parent / s["path"], tenant=s["tenant"], jurisdiction=s["jurisdiction"],
                       fields=_fields(s.get("fields") or {}))
                for s in doc["sources"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise SourceError(f"cannot read sources file {path}: {exc!r}; it must be YAML with a 'sources' list "
                          "of {path, tenant, jurisdiction, optional fields}") from exc


def _fields(spec: dict[str, object]) -> RecordFields:
    def names(value: object) -> tuple[str, ...]:
        return tuple(value) if isinstance(value, list) else (str(value),)

    return RecordFields(id=str(spec.get("id", "id")), title=str(spec.get("title", "title")),
                        text=names(spec.get("text", ["text"])),
                        metadata=names(spec["metadata"]) if "metadata" in spec else None)
