"""One process owns the embedded index; every other process on the same data
directory reaches it through that one.

Qdrant Edge lets one process open a shard (it locks the write-ahead log), so the
API, a run, `status` and a Dagster check cannot all open it. The first process to
need the embedded index takes `<index>/.owner.lock` for as long as it keeps the
index open and serves it on a loopback port, named with a token in
`<index>/.owner.json` (mode 0600, so only this user's processes can call it).
Every other process sends each call there. When the owner closes the index, the
next call finds no owner, takes the lock and becomes the owner. Readers never wait
for a writer's run to finish, and two processes never meet in the shard's files.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from vectorstore.edge import EdgeIndex
from vectorstore.errors import VectorStoreError
from vectorstore.index import Hit, IndexPoint, Query
from vectorstore.owner_card import (  # noqa: F401 - re-exported: callers name them from here too
    CALL_TIMEOUT_S,
    CARD,
    LOCK,
    AskError,
    Card,
    OwnerUnreachable,
    _alive,
    owner,
)
from vectorstore.sparse import Sparse

log = logging.getLogger(__name__)

# How long a caller looks for the owner's card after failing to take the lock: the
# owner writes it right after taking the lock, so this is only a start-up race.
FIND_S = 15.0
HANDOVERS = 8  # owners one call may follow: each is another process that took the index and let go
OPS = frozenset({"upsert", "delete", "ids", "digests", "set_payloads", "regions", "count", "search",
                 "retrieve", "points", "optimize", "drop", "compact", "embed_query", "ask", "status"})
ANSWERED = ("embed_query", "ask", "status")  # answered by the owner's loaded factory, not by an index


class NoModelHere(VectorStoreError, RuntimeError):
    """The index owner has no embedding model loaded to embed a question with."""


# --- wire format -----------------------------------------------------------------------------


def _vec(values: Sequence[float] | None) -> str | None:
    return None if values is None else base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode()


def _unvec(text: str | None) -> list[float] | None:
    return None if text is None else np.frombuffer(base64.b64decode(text), dtype="<f4").astype(float).tolist()


def _sparse(s: Sparse | None) -> dict[str, Any] | None:
    return None if s is None else {"indices": list(s.indices), "values": list(s.values)}


def _unsparse(d: dict[str, Any] | None) -> Sparse | None:
    return None if d is None else Sparse(list(d["indices"]), list(d["values"]))


def encode_args(op: str, args: list[Any]) -> list[Any]:
    if op == "upsert":
        region, points = args
        return [region, [{"id": p.id, "vector": _vec(p.vector), "payload": p.payload, "sparse": _sparse(p.sparse)}
                         for p in points]]
    if op == "search":
        region, q = args
        return [region, {**asdict(q), "dense": _vec(q.dense), "sparse": _sparse(q.sparse),
                         "filters": dict(q.filters)}]
    if op == "delete":
        return [args[0], list(args[1])]
    return list(args)


def decode_args(op: str, args: list[Any]) -> list[Any]:
    if op == "upsert":
        region, points = args
        return [region, [IndexPoint(p["id"], _unvec(p["vector"]) or [], p["payload"], _unsparse(p["sparse"]))
                         for p in points]]
    if op == "search":
        region, q = args
        return [region, Query(**{**q, "dense": _unvec(q["dense"]) or [], "sparse": _unsparse(q["sparse"])})]
    return args


def encode_result(op: str, value: Any) -> Any:
    if op in ("search", "retrieve", "points"):
        return [{"id": h.id, "score": h.score, "payload": h.payload, "vector": _vec(h.vector)} for h in value]
    if op == "ids":
        return sorted(value)
    return value


def decode_result(op: str, value: Any) -> Any:
    if op in ("search", "retrieve", "points"):
        return [Hit(h["id"], h["score"], h["payload"], _unvec(h["vector"])) for h in value]
    if op == "ids":
        return set(value)
    return value


# --- the owner -------------------------------------------------------------------------------


class Host:
    """The owner's side: the lock, the Edge indexes of each model, and the loopback server."""

    def __init__(self, root: Path, lock: Any, command: str, quantization: str = "none") -> None:
        self.root, self._lock_file, self.quantization = root, lock, quantization
        self._indexes: dict[str, EdgeIndex] = {}
        self._mutex = threading.Lock()  # one call at a time into the shards, local or remote
        self.users = 0
        self.closed = False
        self.embed_query: Any = None  # set by a process that has the model loaded
        self.ask: Any = None  # the same: a whole search, answered as dicts
        self.status: Any = None  # the same: `aifactory status`, as JSON-ready data
        self.command: Any = None  # set by a long-lived service: carries out a client's command (streamed)
        self.token = secrets.token_urlsafe(24)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="index-owner", daemon=True)
        self._thread.start()
        card = Card(pid=os.getpid(), command=command, since=datetime.now(UTC).isoformat(timespec="seconds"),
                    port=self._server.server_address[1], token=self.token)
        path = root / CARD
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(card), fh)
        os.replace(tmp, path)

    def index(self, model_id: str, dimension: int) -> EdgeIndex:
        index = self._indexes.get(model_id)
        if index is None:
            index = self._indexes[model_id] = EdgeIndex(self.root, model_id=model_id, dimension=dimension,
                                                        quantization=self.quantization)
        elif dimension and not index.dimension:
            index.dimension = dimension
        return index

    def call(self, model_id: str, dimension: int, op: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if op not in OPS:
            raise VectorStoreError(f"unknown index call {op!r}")
        if op in ANSWERED:
            answer = getattr(self, op)
            if answer is None:
                raise NoModelHere("the index owner has no model loaded")
            return answer(*args, **kwargs)
        with self._mutex:
            if self.closed:  # a call that came in while the owner let go: the caller finds the next owner
                raise OwnerUnreachable("the index owner is closing the index")
            return getattr(self.index(model_id, dimension), op)(*args, **kwargs)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._mutex:
            self.closed = True
            for index in self._indexes.values():
                index.close()
            self._indexes.clear()
        try:
            card = json.loads((self.root / CARD).read_text())
            if card.get("pid") == os.getpid():
                (self.root / CARD).unlink()
        except (OSError, ValueError):
            pass
        self._lock_file.close()  # releases the lock


def _handler(host: Host) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            except ValueError:
                return self._send(400, {"error": {"type": "BadRequest", "message": "not JSON"}})
            if not secrets.compare_digest(str(body.get("token", "")), host.token):
                return self._send(403, {"error": {"type": "Forbidden", "message": "wrong token"}})
            op = body["op"]
            if op == "command":
                return self._command(body.get("kwargs") or {})
            try:
                result = host.call(body["model_id"], body["dimension"], op, decode_args(op, body["args"]),
                                   body.get("kwargs") or {})
                self._send(200, {"result": encode_result(op, result)})
            except Exception as exc:  # noqa: BLE001 - handed to the caller, who raises it
                self._send(500, {"error": {"type": type(exc).__name__, "message": str(exc)}})

        def _command(self, kwargs: dict[str, Any]) -> None:
            """A whole command, its progress lines streamed as they come, one JSON object a
            line, then its result; the caller may leave: the command still runs to its end."""
            if host.command is None or host.closed:
                return self._send(500, {"error": {"type": "NoModelHere", "message": "no commands served here"}})
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()  # HTTP/1.0: the body ends when the connection closes

            def line(data: dict[str, Any]) -> None:
                try:
                    self.wfile.write(json.dumps(data, default=str).encode() + b"\n")
                    self.wfile.flush()
                except OSError:  # the caller left (Ctrl-C): the command goes on without it
                    pass

            line({"result": host.command(**kwargs, say=lambda text: line({"line": text}))})

        def _send(self, status: int, data: dict[str, Any]) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


_HOSTS: dict[Path, Host] = {}
_HOSTS_LOCK = threading.Lock()


def claim(root: Path, command: str, quantization: str = "none") -> Host | None:
    """This process's host of the index at `root`, taking the lock if no process holds it;
    None when another process owns it."""
    root = root.resolve()
    with _HOSTS_LOCK:
        host = _HOSTS.get(root)
        if host is None:
            root.mkdir(parents=True, exist_ok=True)
            lock = (root / LOCK).open("a")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                return None
            host = _HOSTS[root] = Host(root, lock, command, quantization)
        host.users += 1
        return host


def release(host: Host) -> None:
    with _HOSTS_LOCK:
        host.users -= 1
        if host.users > 0:
            return
        _HOSTS.pop(host.root, None)
    host.close()


def this_command(words: int = 1) -> str:
    """This process as a person would name it: `aifactory serve`, also when started as
    `python -m aifactory.cli serve`, with its first `words` arguments."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if name in ("cli.py", "__main__.py", "-c"):
        name = "aifactory" if "aifactory" in sys.argv[0] else "python"
    return " ".join([name, *sys.argv[1:1 + words]])


# --- everyone's view -------------------------------------------------------------------------


class HomeIndex:
    """The embedded index of one model as this process sees it: the shards themselves
    when this process owns them, else calls to the owner. Implements VectorIndex."""

    def __init__(self, root: Path, *, model_id: str, dimension: int, command: str = "",
                 quantization: str = "none") -> None:
        self.root, self.model_id, self.dimension = root.resolve(), model_id, dimension
        self.quantization = quantization  # of the shards this process creates, should it own the index
        self.command = command or this_command()
        self._host: Host | None = None
        self._card: Card | None = None
        self._closed = False
        self._resolve()

    @property
    def owned(self) -> bool:
        return self._host is not None

    @property
    def holder(self) -> Card | None:
        """The other process this one calls, or None when this one owns the index."""
        return self._card

    def serve_queries_with(self, embed_query: Any, ask: Any = None, status: Any = None) -> None:
        """Let other processes embed a question here, or have a whole search answered
        (`ask`, returning JSON-ready results), or the factory's status (`status`): the
        model and the pipeline are loaded in this one."""
        if self._host is not None:
            self._host.embed_query, self._host.ask, self._host.status = embed_query, ask, status

    def serve_commands_with(self, command: Any) -> bool:
        """Let other processes have whole commands carried out here (a long-lived service
        only: the command runs on after its caller leaves); False when this process does
        not own the index, so no one calls it."""
        if self._host is None:
            return False
        self._host.command = command
        return True

    def _resolve(self, gone: Card | None = None) -> None:
        """Own the index, or find the live owner to call; `gone` is an owner that just let
        go: its card stays until its shards are closed (a big one takes seconds), so it
        is waited out, not called again."""
        deadline = time.monotonic() + FIND_S
        while True:
            self._host = claim(self.root, self.command, self.quantization)
            if self._host is not None:
                self._card = None
                return
            card = owner(self.root)
            if card is not None and card.pid != os.getpid() and _alive(card.pid) and \
                    (gone is None or card.token != gone.token):
                self._card = card
                return
            if time.monotonic() > deadline:
                raise OwnerUnreachable(f"the embedded index {self.root} is locked by another process that does not "
                                       f"answer (card: {card.describe() if card else 'none'}); if no aifactory "
                                       "process is running, remove its .owner.json and try again")
            time.sleep(0.05)

    def _call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            raise VectorStoreError("the index was closed")
        for _handover in range(HANDOVERS):
            if self._host is not None:
                return self._host.call(self.model_id, self.dimension, op, list(args), kwargs)
            assert self._card is not None
            try:
                return self._remote(self._card, op, list(args), kwargs)
            except OwnerUnreachable:
                self._resolve(gone=self._card)  # the owner let go: wait for the next one, or become it
        raise OwnerUnreachable(f"the owner of the embedded index {self.root} changed {HANDOVERS} times during one "
                               "call; try again")

    def _remote(self, card: Card, op: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        body = json.dumps({"token": card.token, "model_id": self.model_id, "dimension": self.dimension, "op": op,
                           "args": encode_args(op, args), "kwargs": kwargs}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{card.port}/", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as response:
                return decode_result(op, json.loads(response.read())["result"])
        except urllib.error.HTTPError as exc:
            error = json.loads(exc.read() or b"{}").get("error", {})
            if exc.code == 403 or error.get("type") == "OwnerUnreachable":
                raise OwnerUnreachable(f"the index owner {card.describe()} let go of the index") from exc
            if error.get("type") == "NoModelHere":
                raise NoModelHere(error.get("message", "")) from exc
            raise VectorStoreError(f"the index owner {card.describe()} failed on {op}: "
                                   f"{error.get('type')}: {error.get('message')}") from exc
        except (urllib.error.URLError, ConnectionError) as exc:
            raise OwnerUnreachable(f"the index owner {card.describe()} did not answer: {exc}") from exc

    # VectorIndex
    def upsert(self, region: str, points: Sequence[IndexPoint]) -> None:
        self._call("upsert", region, list(points))

    def delete(self, region: str, ids: Iterable[str]) -> None:
        self._call("delete", region, list(ids))

    def ids(self, region: str) -> set[str]:
        return set(self._call("ids", region))

    def digests(self, region: str, *, tenant: str | None = None,
                documents: Collection[str] | None = None) -> dict[str, str]:
        return dict(self._call("digests", region, tenant=tenant,
                               documents=None if documents is None else sorted(documents)))

    def set_payloads(self, region: str, payloads: dict[str, dict[str, Any]]) -> None:
        self._call("set_payloads", region, payloads)

    def regions(self) -> list[str]:
        return list(self._call("regions"))

    def count(self, region: str, *, tenant: str | None = None, document_id: str | None = None) -> int:
        return int(self._call("count", region, tenant=tenant, document_id=document_id))

    def search(self, region: str, query: Query) -> list[Hit]:
        return list(self._call("search", region, query))

    def retrieve(self, region: str, ids: list[str]) -> list[Hit]:
        return list(self._call("retrieve", region, list(ids)))

    def points(self, region: str) -> list[Hit]:
        return list(self._call("points", region))

    def optimize(self) -> None:
        self._call("optimize")

    def drop(self, region: str) -> None:
        self._call("drop", region)

    def compact(self, region: str) -> int:
        return int(self._call("compact", region))

    def embed_query(self, text: str) -> list[float]:
        """The question embedded by the owner's model (raises when it has none loaded)."""
        return list(self._call("embed_query", text))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._host is not None:
            release(self._host)
            self._host = None
