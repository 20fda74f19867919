"""Our pipeline as a benchmark child: a one-shot `runner.run` for the build (the
same path as `aifactory run`), then the resident mode's `Follower` (what
`aifactory run --follow` keeps open) for edits, deletes and freshness.

As `ours-up` (benchmarks/peers/ours_up.py), the same with `aifactory up --no-api`
running: the build and the follower are clients of its services (one transform
worker, one lander, the indexer), as commands are when the factory is up."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from benchmarks.incremental import factory_up
from benchmarks.peers.common import EDITS, Change, child_args, edit_file, freshness, report
from ingest.sources import Source
from pipeline import runner
from pipeline.attach import attached
from pipeline.factory import Factory
from pipeline.follow import Follower
from pipeline.settings import FactorySettings
from vectorstore.search import search


def sources_of(corpus: Path) -> list[Source]:
    return [Source(folder, folder.name, "EU" if folder.name.endswith("eu") else "US")
            for folder in sorted(p for p in corpus.iterdir() if p.is_dir())]


def document_id(sources: list[Source], path: Path) -> tuple[str, str]:
    source = next(s for s in sources if path.is_relative_to(s.root))
    return source.tenant, f"{source.tenant}:{path.relative_to(source.root).as_posix()}"


def points(factory: Factory, document: str | None = None) -> int:
    index = factory.index
    return sum(index.count(r, document_id=document) for r in index.regions())


def main(*, up: bool = False) -> None:
    args = child_args(__doc__ or "")
    with factory_up(args.work / "home") if up and args.phase == "main" else contextlib.nullcontext():
        measure(args, up=up)


def measure(args: argparse.Namespace, *, up: bool) -> None:
    sources = sources_of(args.corpus)
    factory = Factory(FactorySettings(home=args.work / "home", stage_timeout_s=3600, embedding_backend=args.backend,
                                      embedding_precision=args.precision))
    loading = time.perf_counter()
    # The model is loaded before every timing, for every system; on onnx this includes the
    # one-time export into the data directory, reported apart as load_s.
    factory.embedder  # noqa: B018
    load_s = time.perf_counter() - loading
    if args.phase in ("kill", "resume"):
        # kill: the parent SIGKILLs this process (and the broker and worker under it) mid-index.
        runner.run(factory, sources, progress=args.phase == "kill")
        report({"points": points(factory)})
        factory.close()
        return

    started = time.perf_counter()
    built_run = runner.run(factory, sources)
    hits = search(factory.index, factory.embedder, "battery charging voltage", tenant=sources[0].tenant, top_k=3)
    build_s = time.perf_counter() - started
    built = points(factory)

    def reflects(change: Change) -> bool:
        tenant, doc = document_id(sources, change.path)
        if change.kind == "delete":
            return points(factory, doc) == 0
        found = search(factory.index, factory.embedder, change.marker, tenant=tenant, top_k=5,
                       filters={"document_id": doc})
        return any(change.marker in h.text for h in found)

    remote = attached(factory) if up else None
    with runner.connection(factory, remote) as conn, \
            Follower(factory, sources, conn, remote=remote is not None) as follower:
        follower.cycle()  # the service is up: its first cycle finds nothing new
        files = sorted(sources[-1].root.rglob("doc-*.txt"))
        for i, path in enumerate(files[:EDITS]):
            edit_file(path, f"Edited paragraph {i}: the charger firmware was rolled back.")
        edited = follower.cycle()
        gone = files[EDITS:2 * EDITS]
        for path in gone:
            path.unlink()
        follower.cycle()
        stale = sum(points(factory, document_id(sources, p)[1]) for p in gone)

        def cycle() -> None:
            follower.cycle()

        fresh = freshness(cycle, reflects, args.corpus, args.changes, args.interval)
    backend = args.backend if args.backend == "onnx" else f"torch {factory.embedder.precision}"
    report({"system": "ours-up" if up else "ours", "backend": backend, "load_s": load_s,
            "build_s": build_s, "split_s": built_run.seconds, "search_ok": bool(hits), "points_after_build": built,
            "embedded_per_edited_doc": (edited.index.upserted if edited.index else 0) / EDITS,
            "stale_after_delete": stale, "freshness": fresh})
    factory.close()


if __name__ == "__main__":
    main()
