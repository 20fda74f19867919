"""Safety limits for what a source may hand us. Each is configurable and named,
with its environment variable, in the error that enforces it."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.errors import SourceError

ENV_PREFIX = "AIFACTORY_LIMIT_"


class Limits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    max_file_bytes: int = 20_000_000
    max_text_chars: int = 5_000_000
    max_line_chars: int = 200_000
    max_pdf_pages: int = 2_000
    max_json_depth: int = 64
    max_records: int = 100_000
    max_archive_entries: int = 1_000
    max_archive_bytes: int = 200_000_000
    max_expansion_ratio: float = 100.0

    def check(self, name: str, what: str, value: float, limit_name: str) -> None:
        limit = getattr(self, limit_name)
        if value > limit:
            raise LimitExceeded(
                f"{name}: {what} {value:,.0f} exceeds {limit_name} ({limit:,.0f}); raise "
                f"{ENV_PREFIX}{limit_name.upper()} if this input is legitimate, or split it"
            )


class LimitExceeded(SourceError):
    """An input is larger, deeper or expands more than a configured limit allows."""
