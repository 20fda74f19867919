"""Settings of the transform chain, read by the faust worker from its environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from governance.sealing import Sealer
from transforms.injection import DEFAULT_THRESHOLD


class TransformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIFACTORY_", extra="ignore")

    privacy_policy: Path | None = None
    residency_policy: Path | None = None
    # Refuse events whose region their jurisdiction may not be stored in (the default).
    enforce_residency: bool = True
    # Hex; the key each tenant's PII hashes derive from. The CLI keeps one per data directory.
    pii_secret: SecretStr = SecretStr("")
    # The embedding model's folder, whose tokenizer measures chunks; the parent that starts
    # the worker names it (pipeline/factory.py), as the embedder's choice is not transforms' to make.
    tokenizer_dir: Path | None = None
    quarantine_threshold: float = DEFAULT_THRESHOLD
    # The learned model beside the rules (transforms/injection_model.py); off: the rules alone.
    screening_model: bool = True
    # Faust keeps its own state here; left unset it would write into the working directory.
    worker_datadir: Path | None = None
    # With encryption on, the parent names the home's wrapped data keys and its folder of the
    # tenants' master keys (pipeline/factory.py); unset: text is not sealed.
    data_keys: Path | None = None
    tenant_keys: Path | None = None

    def sealer(self) -> Sealer:
        if self.data_keys is None or self.tenant_keys is None:
            return Sealer(None)
        return Sealer.at(self.data_keys, self.tenant_keys)

    @property
    def secret_bytes(self) -> bytes:
        return bytes.fromhex(self.pii_secret.get_secret_value())
