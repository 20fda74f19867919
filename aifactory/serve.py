"""`aifactory serve`: the vector API on uvicorn, with its settings and key store."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict

from aifactory.factory import Factory
from aifactory.service import ApiBackend
from governance.keys import KeyStore
from vectorstore.api.app import ApiLimits, create_app

log = logging.getLogger(__name__)


class ApiSettings(BaseSettings):
    """AIFACTORY_API_HOST, AIFACTORY_API_PORT, AIFACTORY_API_RATE_PER_S, ..."""

    model_config = SettingsConfigDict(env_prefix="AIFACTORY_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = ApiLimits.max_body_bytes
    max_top_k: int = ApiLimits.max_top_k
    max_query_chars: int = ApiLimits.max_query_chars
    max_token_budget: int = ApiLimits.max_token_budget
    rate_per_s: float = ApiLimits.rate_per_s
    burst: int = ApiLimits.burst
    timeout_s: float = ApiLimits.timeout_s

    def limits(self) -> ApiLimits:
        return ApiLimits(**self.model_dump(exclude={"host", "port"}))


def key_store(factory: Factory) -> KeyStore:
    return KeyStore(factory.settings.home / "keys" / "api-keys.json")


def build(factory: Factory, settings: ApiSettings | None = None) -> tuple[FastAPI, ApiBackend]:
    backend = ApiBackend(factory)
    app = create_app(backend, key_store(factory), (settings or ApiSettings()).limits())
    return app, backend


def serve(factory: Factory, settings: ApiSettings) -> None:
    app, backend = build(factory, settings)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    finally:
        backend.close()
