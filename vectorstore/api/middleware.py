"""The edge of every request (pure ASGI, so cheap): refuse a body over the limit before
it is read whole, and account for the request once it is answered: its metrics and
one access-log line.

The access log goes to the logger `aifactory.access`, one logfmt line per request
(method, path, status, duration, tenant, key id, client), with the same fields as a
dict in the record's `access` attribute for structured handlers. It never holds the
key, the query string or the body: they may carry secrets or personal data.

Each request gets an id (`X-Request-Id` on the answer, REQUEST_ID while it is served,
so the usage entries it makes carry it) and, with a request log, one JSON line there
(`RequestLog`): the record `aifactory usage reconcile` holds the ledger's queries to.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from governance.jsonlines import read_objects
from vectorstore.api.problems import ApiProblem, problem
from vectorstore.api.telemetry import Telemetry

access_log = logging.getLogger("aifactory.access")
_BARE = re.compile(r"[\w./:@{}*+-]+")
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
# What the route read, for the egress of its answer: {"regions": [...]} (mutated, not set, so
# a route run in a copied context still reaches the middleware's dict).
ANSWER_READ: ContextVar[dict[str, Any]] = ContextVar("answer_read")
Egress = Callable[[str, str, str, list[str], int], None]  # (tenant, key id, request id, regions, bytes)


class RequestLog:
    """One JSON line per answered request, appended (O_APPEND: several API processes
    may share the file): time, request id, method, route, status, tenant, key id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, fields: dict[str, Any]) -> None:
        data = (json.dumps(fields, sort_keys=True) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def entries(self) -> list[dict[str, Any]]:
        """Every whole line (a line still being written, or damaged, is left out)."""
        return read_objects(self.path)


def logfmt(fields: dict[str, Any]) -> str:
    # A value with a space, quote or newline is quoted: a crafted path cannot forge a line.
    return " ".join(f"{k}={v if _BARE.fullmatch(str(v)) else json.dumps(str(v))}" for k, v in fields.items())


class BodyLimit:
    """Refuse a body over the limit before it is read whole; meter and log every request."""

    def __init__(self, app: ASGIApp, max_bytes: int, telemetry: Telemetry,
                 request_log: RequestLog | None = None, on_egress: Egress | None = None) -> None:
        self.app, self.max_bytes, self.telemetry, self.request_log = app, max_bytes, telemetry, request_log
        self.on_egress = on_egress

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        status = {"code": 500, "bytes": 0}
        request_id = uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        read: dict[str, Any] = {"regions": []}
        read_token = ANSWER_READ.set(read)

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body":
                status["bytes"] += len(message.get("body", b""))
            await send(message)

        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = declared is not None and declared.isdigit() and int(declared) > self.max_bytes
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise ApiProblem(413, "Request body too large", self._detail())
            return message

        try:
            if too_big:
                raise ApiProblem(413, "Request body too large", self._detail())
            await self.app(scope, limited_receive, counting_send)
        except ApiProblem as exc:
            response = problem(exc.status, exc.title, exc.detail, scope.get("path", ""))
            status["code"] = exc.status
            await response(scope, receive, counting_send)
        finally:
            REQUEST_ID.reset(token)
            ANSWER_READ.reset(read_token)
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.telemetry.observe(route, scope.get("method", ""), status["code"], state.get("tenant", ""), seconds,
                                   status["bytes"])
            self._log(scope, status["code"], seconds, state)
            if self.request_log is not None:
                self.request_log.append({
                    "at": datetime.now(UTC).isoformat(), "request_id": request_id, "method": scope.get("method", ""),
                    "route": route, "status": status["code"], "tenant": state.get("tenant") or "",
                    "key_id": state.get("key_id") or "", "bytes": status["bytes"]})
            tenant = state.get("tenant") or ""
            if self.on_egress is not None and status["code"] == 200 and tenant not in ("", "*") and status["bytes"]:
                self.on_egress(tenant, state.get("key_id") or "", request_id,
                               list(read["regions"] or state.get("regions") or []), status["bytes"])

    @staticmethod
    def _log(scope: Scope, status: int, seconds: float, state: dict[str, Any]) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        fields = {"method": scope.get("method", ""), "path": scope.get("path", ""), "status": status,
                  "duration_ms": round(seconds * 1000, 2), "tenant": state.get("tenant") or "-",
                  "key_id": state.get("key_id") or "-", "client": client[0] if client else "-"}
        access_log.info("%s", logfmt(fields), extra={"access": fields})

    def _detail(self) -> str:
        return (f"the body is larger than {self.max_bytes} bytes: send a shorter query or fewer filters, or "
                "fewer or smaller documents per request (the server's AIFACTORY_API_MAX_BODY_BYTES sets the limit)")
