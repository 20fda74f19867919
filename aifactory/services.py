"""`aifactory up` and `aifactory worker KIND`: the factory's long-lived services
(pipeline/services.py, pipeline/up.py), stopped by Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import sys

from aifactory.remote import carry_out
from pipeline.factory import Factory
from pipeline.progress import Progress
from pipeline.services import serve as serve_service
from pipeline.signals import stop_on_signal
from pipeline.up import Child, Supervisor, children


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cmd_worker(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    factory.note_config(f"worker {args.kind}")  # a changed configuration is audited at start
    if args.kind == "index":  # it owns the embedded index, unless the API came first: commands come here
        factory.serve_commands(carry_out)
    with stop_on_signal() as stop:
        serve_service(factory, args.kind, stop, say=say)


def cmd_up(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    factory.note_config("up")
    home = factory.settings.home
    kids = children(home, transform_workers=args.workers, landers=args.landers, api=not args.no_api,
                    host=args.host, port=args.port)
    say(f"aifactory up: starting {len(kids)} service(s) on {home} ({', '.join(c.name for c in kids)}); "
        f"logs in {home / 'logs' / 'services'}")

    def ready(kids: list[Child]) -> None:
        for child in kids:
            say(f"  {child.name:<12} pid {child.proc.pid if child.proc else '?':<8} {child.log_path}")
        say("the factory is up: `aifactory run`, `ingest`, `search`, `status` now use it; Ctrl-C stops it")

    with stop_on_signal() as stop:
        Supervisor(factory, kids, say=say).run(stop, on_ready=ready)
    say("aifactory up: every service stopped")
