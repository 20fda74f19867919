"""Commands carried out by the running factory for a command line that is its client.

`run`, `ingest`, `delete` and `lineage trace` need the pipeline (DuckDB,
pyarrow, Kafka, the contracts): seconds of imports before any work. When a long-lived
service (`aifactory serve`, the indexer of `aifactory up`) owns the embedded index, it
has all of that loaded: the command line sends it the parsed command and prints what
comes back (progress lines as they come, then the output), so it answers in a fraction
of a second. Without such a service the command carries itself out, as before.

The service declines (and the command runs itself) when the command line's settings
differ from its own (another AIFACTORY_, KAFKA_ or QDRANT_ variable), and declines a
`run` or `ingest` when the landers and transform workers are not up: it would start a
broker and a faust worker inside an API process otherwise.
"""

from __future__ import annotations

import argparse
import contextvars
import io
import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO, cast

log = logging.getLogger(__name__)

# Not `erase`: it closes the factory it is given to compact the shards, which would pull
# the index from under the service; it is seconds of work on its own anyway.
CARRIED = ("run", "ingest", "delete", "lineage")
_SETTINGS = ("AIFACTORY_", "KAFKA_", "QDRANT_")

# Where a command's output goes: the process's stdout, or the text sent back to a client.
output: contextvars.ContextVar[io.StringIO | None] = contextvars.ContextVar("output", default=None)


def settings_env() -> dict[str, str]:
    """The variables that shape what a command does (the home is the same by construction)."""
    return {k: v for k, v in os.environ.items() if k.startswith(_SETTINGS) and k != "AIFACTORY_HOME"}


def request_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """The command as sent to the factory, paths made absolute; None when it is not one
    the factory carries out (a resident `run --follow` stays in its own terminal)."""
    if args.command not in CARRIED or getattr(args, "follow", False):
        return None
    if args.command == "lineage" and args.format == "html" and not args.out:
        return None  # written to the command line's folder: not the service's to guess
    fields = {k: v for k, v in vars(args).items() if k != "verbose"}
    if fields.get("paths"):
        fields["paths"] = [str(Path(p).absolute()) for p in fields["paths"]]
    if fields.get("out"):
        fields["out"] = str(Path(fields["out"]).absolute())
    return {"name": args.command, "args": fields, "env": settings_env(), "cwd": str(Path.cwd())}


def carried_out(args: argparse.Namespace, home: Path) -> int | None:
    """The exit code of the command as the running factory carried it out; None when no
    service there carries it out (the caller does the work itself)."""
    request = request_of(args)
    if request is None or not (home / "index" / ".owner.json").exists():
        return None
    from vectorstore.owner_card import command  # no numpy, no torch, no DuckDB

    result = command(home / "index", lambda line: print(line, file=sys.stderr, flush=True), **request)
    if result is None or result.get("declined"):
        return None
    if result["out"]:
        print(result["out"], end="", flush=True)
    if result.get("error"):
        print(f"aifactory {args.command}: {result['error']}", file=sys.stderr, flush=True)
    return int(result["code"])


def carry_out(factory: Any, *, name: str, args: dict[str, Any], env: dict[str, str], cwd: str,
              say: Any) -> dict[str, Any]:
    """The service's side: carry the command out with this process's loaded factory."""
    from aifactory import commands
    from pipeline.attach import attached
    from pipeline.progress import Progress

    if name not in CARRIED:
        return {"declined": f"{name} is not carried out by the factory"}
    if env != settings_env():
        return {"declined": "the command line's settings differ from this service's"}
    if name in ("run", "ingest") and attached(factory) is None:
        return {"declined": "the landers and transform workers are not up"}
    out = io.StringIO()
    token = output.set(out)
    progress = Progress(not args.get("json"), out=cast(TextIO, _Lines(say)))
    try:
        commands.COMMANDS[name](argparse.Namespace(**args), factory, progress)
        return {"out": out.getvalue(), "code": 0}
    except commands.USER_ERRORS as exc:
        return {"out": out.getvalue(), "code": 2, "error": str(exc)}
    except Exception as exc:  # a bug: the traceback stays in this service's log
        log.exception("aifactory %s, carried out for a client in %s, failed", name, cwd)
        return {"out": out.getvalue(), "code": 1,
                "error": f"unexpected error in the factory (pid {os.getpid()}): {type(exc).__name__}: {exc}; "
                         "its service log has the traceback"}
    finally:
        output.reset(token)


class _Lines(io.TextIOBase):
    """A text stream that hands each complete line to `say` (progress lines, for the client)."""

    def __init__(self, say: Any) -> None:
        self.say, self.buffer_ = say, ""

    def write(self, text: str) -> int:
        self.buffer_ += text
        *lines, self.buffer_ = self.buffer_.split("\n")
        for line in lines:
            self.say(line)
        return len(text)

    def isatty(self) -> bool:
        return False
