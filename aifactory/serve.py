"""`aifactory serve`: the vector API on uvicorn, with its settings and key store, and its
access log (one line per request, logger `aifactory.access`) on stderr. Given a
certificate and its key (AIFACTORY_API_TLS_CERT, AIFACTORY_API_TLS_KEY), it speaks
HTTPS only."""

from __future__ import annotations

import contextlib
import logging
import signal
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict

from aifactory.commands import UsageError
from governance.keys import KeyStore
from pipeline.factory import Factory
from pipeline.reconcile import request_log_path
from pipeline.service import ApiBackend
from vectorstore.api.app import ApiLimits, create_app
from vectorstore.api.middleware import RequestLog, access_log

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
    access_log: bool = True  # one line per request on stderr; AIFACTORY_API_ACCESS_LOG=false turns it off
    tls_cert: str = ""  # PEM certificate (chain); with tls_key, the API is served over HTTPS
    tls_key: str = ""

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def check_tls(self) -> None:
        """Both files or neither, each readable: a clear error before the port is opened."""
        if bool(self.tls_cert) != bool(self.tls_key):
            raise UsageError("TLS needs both a certificate and its private key: pass --tls-cert and --tls-key "
                             "(or AIFACTORY_API_TLS_CERT and AIFACTORY_API_TLS_KEY)")
        for what, path in (("certificate", self.tls_cert), ("private key", self.tls_key)):
            if path and not Path(path).is_file():
                raise UsageError(f"TLS {what} {path}: no such file")
        if self.tls_cert:
            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.tls_cert, self.tls_key)
            except (ssl.SSLError, OSError) as exc:
                raise UsageError(f"TLS certificate {self.tls_cert} and key {self.tls_key} cannot be used "
                                 f"together ({exc}); give a PEM certificate and the key it was made with") from None

    def limits(self) -> ApiLimits:
        return ApiLimits(**self.model_dump(exclude={"host", "port", "access_log", "tls_cert", "tls_key"}))


def key_store(factory: Factory) -> KeyStore:
    return KeyStore(factory.settings.home / "keys" / "api-keys.json")


def build(factory: Factory, settings: ApiSettings | None = None) -> tuple[FastAPI, ApiBackend]:
    backend = ApiBackend(factory)
    app = create_app(backend, key_store(factory), (settings or ApiSettings()).limits(),
                     request_log=RequestLog(request_log_path(factory.settings.home)))
    return app, backend


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its shutdown, which would kill the process before
    the backend flushes metering and finishes deletes; here a signal only asks to exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self._ask_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _ask_exit(self, signum: int, frame: object) -> None:
        self.should_exit = True


def log_access_to_stderr() -> None:
    """Show the access log on stderr whatever the root logger's level (the CLI's is WARNING)."""
    access_log.setLevel(logging.INFO)
    if not any(isinstance(h, logging.StreamHandler) and h.stream is sys.stderr for h in access_log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access_log.addHandler(handler)
    access_log.propagate = False  # else a root handler prints each line twice


def serve(factory: Factory, settings: ApiSettings) -> None:
    app, backend = build(factory, settings)
    if settings.access_log:
        log_access_to_stderr()  # uvicorn's own access log stays off: ours has the tenant and the key id
    try:
        _Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                               access_log=False, ssl_certfile=settings.tls_cert or None,
                               ssl_keyfile=settings.tls_key or None)).run()
    finally:
        backend.close()
