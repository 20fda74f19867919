"""The index owner as its callers see it, without numpy or the index: who owns the
embedded index (its card) and the calls that have the owner answer a whole search,
`status` or a command. A command line that is a client of the running factory imports
only this (owner.py explains the owner itself)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorstore.errors import VectorStoreError

LOCK, CARD = ".owner.lock", ".owner.json"
# The index's own calls (an upsert batch, a full scroll) can take a while on a large shard.
CALL_TIMEOUT_S = 600.0


class OwnerUnreachable(VectorStoreError, RuntimeError):
    """The process that holds the embedded index did not answer, or is closing it."""


@dataclass(frozen=True)
class Card:
    """Who owns the index and where to call it."""

    pid: int
    command: str
    since: str
    port: int
    token: str

    def describe(self) -> str:
        return f"{self.command} (pid {self.pid}, since {self.since})"


def owner(root: Path) -> Card | None:
    """The card of the process owning the index at `root`, if one does."""
    try:
        return Card(**json.loads((root / CARD).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AskError(VectorStoreError, ValueError):
    """The owner refused a search as asked (its message says why)."""


def ask(root: Path, **question: Any) -> list[dict[str, Any]] | None:
    """A whole search answered by the process owning the index at `root`, with its loaded
    model; None when no live owner with a model is there (the caller searches itself)."""
    result = _answered(root, "ask", question)
    return None if result is None else list(result)


def status(root: Path) -> dict[str, Any] | None:
    """`aifactory status` answered by the process owning the index at `root`; None when
    no live owner with the pipeline loaded is there (the caller computes it itself)."""
    result = _answered(root, "status", {})
    return None if result is None else dict(result)


def _answered(root: Path, op: str, kwargs: dict[str, Any]) -> Any:
    card = owner(root)
    if card is None or not _alive(card.pid):
        return None
    body = json.dumps({"token": card.token, "model_id": "", "dimension": 0, "op": op, "args": [],
                       "kwargs": kwargs}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{card.port}/", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as response:
            return json.loads(response.read())["result"]
    except urllib.error.HTTPError as exc:
        error = json.loads(exc.read() or b"{}").get("error", {})
        if error.get("type") == "SearchError":
            raise AskError(error.get("message", "")) from exc
        return None
    except (urllib.error.URLError, ConnectionError, ValueError):
        return None


def command(root: Path, on_line: Any, **request: Any) -> dict[str, Any] | None:
    """A command carried out by the process owning the index at `root`, its progress
    lines handed to `on_line` as they come; None when no live owner serves commands
    (the caller carries it out itself). Raises OwnerUnreachable when the owner went away
    mid-command."""
    card = owner(root)
    if card is None or not _alive(card.pid):
        return None
    body = json.dumps({"token": card.token, "model_id": "", "dimension": 0, "op": "command", "args": [],
                       "kwargs": request}).encode()
    http = urllib.request.Request(f"http://127.0.0.1:{card.port}/", data=body,
                                  headers={"Content-Type": "application/json"})
    try:
        response = urllib.request.urlopen(http, timeout=None)  # a long run says nothing for minutes
    except (urllib.error.URLError, ConnectionError):  # HTTPError included: no commands served there
        return None
    with response:
        for raw in response:
            data = json.loads(raw)
            if "result" in data:
                return dict(data["result"])
            on_line(data["line"])
    raise OwnerUnreachable(f"{card.describe()} ended before the command did")
