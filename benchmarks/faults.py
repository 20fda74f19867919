"""Fault injection: `kill -9` at random moments of `aifactory run`, then a restart,
then the invariants, over and over.

    python -m benchmarks.faults --kills 20            # 20 effective kills of each target

Targets, each killed with SIGKILL while it is doing its work:
- broker:    the embedded Tansu broker (memory only: every record it held is gone);
- worker:    the faust worker (transforms.worker) mid-stream;
- landing:   the `aifactory run` process while its landers write the lake (before any
             index progress), with its broker and worker, as a host that loses power;
- embedding: the `aifactory run` process while its index sync embeds and upserts;
- indexer:   the `aifactory run` process from when it embeds chunks as they land until
             its index stage is done (the indexer's whole share of a run).
With KAFKA_BOOTSTRAP_SERVERS and AIFACTORY_LAKE_URL set, the runs use that cluster and that
lake (the broker target then finds no broker of the run's own to kill).

Each round first changes the source folder (new, edited and deleted documents, one bad
input), starts `aifactory run`, kills its target at a random moment (a kill that finds
the run already finished is not counted and the round is redone), then runs
`aifactory run` again to completion and checks, against the folder itself:
- the lake holds each event, chunk row and dead letter exactly once (no key twice);
- every live document's latest raw event is an upsert, every deleted one's a tombstone;
- the index holds exactly the planned points (ids and payload digests) and they cover
  exactly the live documents;
- the dead-letter store holds exactly the bad inputs, once each.
A broken invariant is printed and the run exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.corpus import document
from benchmarks.peers.common import descendants, kill_pids, kill_tree
from ingest.tables import DEAD_LETTERS, RAW
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from transforms.tables import CHUNKS
from vectorstore.embedder import Embedder, load_embedder
from vectorstore.sync import plan

TENANT = "faults"
TARGETS = ("broker", "worker", "landing", "embedding", "indexer")
RUN_TIMEOUT_S = 300.0
EXIT_WAIT_S = 20.0  # how long a run whose broker or worker was killed may take to fail by itself
POLL_S = 0.02
PROGRESS = re.compile(rb"(\d+)/(\d+) \[")  # the index sync's progress bar on stderr
INDEXING, INDEXED = b"embedding their chunks as they land", b"] index    done"  # the run's stage lines


@dataclass
class Folder:
    """The source folder and what it should yield: live good documents, bad inputs."""

    root: Path
    rng: random.Random
    next_n: int = 0
    bad: set[str] = field(default_factory=set)

    def add(self, count: int) -> None:
        for _ in range(count):
            _, text = document(self.rng, self.next_n, 1500)
            (self.root / f"doc-{self.next_n:05d}.md").write_text(text)
            self.next_n += 1

    def good(self) -> list[Path]:
        return sorted(self.root.glob("doc-*.md"))

    def change(self, *, new: int, edited: int, deleted: int) -> None:
        """New, edited and deleted documents, and one bad input (kept: it must stay dead-lettered once)."""
        self.add(new)
        files = self.good()
        for path in self.rng.sample(files, min(edited, len(files))):
            path.write_text(path.read_text() + f"\n\nRevision {self.rng.randrange(10**9)}: dock procedure updated.\n")
        for path in self.rng.sample(self.good(), min(deleted, len(self.good()) - 1)):
            path.unlink()
        n = len(self.bad)
        name, data = (f"bad-{n:04d}.md", b"") if n % 2 == 0 else (f"bad-{n:04d}.json", b"[" * 5000 + b"]" * 5000)
        (self.root / name).write_bytes(data)
        self.bad.add(name)

    def live_ids(self) -> set[str]:
        return {f"{TENANT}:{p.name}" for p in self.good()}


def run_env(home: Path) -> dict[str, str]:
    # Only where the lake and the log are is kept from the caller's settings: the faults can
    # be injected with the lake on object storage (AIFACTORY_LAKE_URL and the AWS_* variables)
    # and the log on a cluster (KAFKA_BOOTSTRAP_SERVERS; the broker target then finds no broker).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))
           or k.startswith("AIFACTORY_LAKE_") or k == "KAFKA_BOOTSTRAP_SERVERS"}
    # Small embedding batches, so the index sync has moments to be killed in; a short
    # stage timeout, so a run that lost its broker fails instead of waiting an hour.
    env.update(AIFACTORY_HOME=str(home), AIFACTORY_EMBED_BATCH="8", AIFACTORY_STAGE_TIMEOUT_S="60",
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def start_run(home: Path, root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "aifactory.cli", "run", str(root), "--tenant", TENANT,
                             "--jurisdiction", "EU"], env=run_env(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def find(pid: int, needle: str) -> int | None:
    for child in descendants(pid):
        try:
            if needle in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                return child
        except OSError:
            continue
    return None


@dataclass
class Kill:
    target: str
    hit: bool  # the target was alive and at work when killed
    after_s: float  # seconds from the start of the run
    exit: str  # how the run ended: "killed", "failed by itself (rc, s)", "finished (s)", "hung; killed after ..."


def progress(buffer: bytes) -> tuple[int, int] | None:
    found = PROGRESS.findall(buffer)
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def inject(target: str, home: Path, root: Path, rng: random.Random, window_s: float) -> Kill:
    """Start a run and SIGKILL its `target` at a random moment of its work."""
    proc = start_run(home, root)
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    started, buffer = time.monotonic(), b""
    at: float | None = None  # when to kill, once the target is at work
    victim: int | None = None
    hit = False
    while proc.poll() is None and time.monotonic() - started < RUN_TIMEOUT_S:
        buffer += proc.stderr.read() or b""
        bar = progress(buffer)
        now = time.monotonic()
        if at is None:
            if target == "broker":
                victim = find(proc.pid, "--storage-engine")
            elif target == "worker":
                victim = find(proc.pid, "transforms.worker")
            elif target == "landing":
                victim = proc.pid if find(proc.pid, "transforms.worker") and bar is None else None
            elif target == "indexer":  # the run embeds chunks as they land, then upserts: the indexer's work
                victim = proc.pid if INDEXING in buffer else None
            elif bar is not None and 0 < bar[0] < bar[1]:
                victim = proc.pid
            if victim is not None:
                at = now + rng.uniform(0, window_s if target != "embedding" else window_s / 4)
        elif now >= at:
            still = target != "embedding" or (bar is not None and bar[0] < bar[1])
            if target == "landing":
                still = bar is None
            elif target == "indexer":
                still = INDEXED not in buffer
            hit = still and proc.poll() is None and Path(f"/proc/{victim}").exists()
            break
        time.sleep(POLL_S)
    after = time.monotonic() - started
    if not hit:
        _reap(proc)
        return Kill(target, False, after, "finished before the kill")
    if victim == proc.pid:
        kill_tree(proc.pid)  # the run with everything under it: a host losing power
        _reap(proc)
        return Kill(target, True, after, "killed")
    assert victim is not None
    below = descendants(proc.pid)
    kill_pids([victim])
    try:
        rc = proc.wait(EXIT_WAIT_S)
        took = time.monotonic() - started - after
        # rc 0: what the victim did was already done (a broker killed after the stream stage).
        outcome = f"finished ({took:.1f} s)" if rc == 0 else f"failed by itself (rc {rc}, {took:.1f} s)"
    except subprocess.TimeoutExpired:
        outcome = f"hung; killed after {EXIT_WAIT_S:.0f} s"
    kill_pids([proc.pid, *below])  # the supervisor's clean-up: nothing of the old run lives on
    _reap(proc)
    return Kill(target, True, after, outcome)


def rounds_until_hit(target: str, home: Path, folder: Folder, rng: random.Random, embedder: Embedder, *,
                     attempts: int = 3, window_s: float = 3.0) -> Iterator[tuple[Kill, list[str]]]:
    """Rounds of change, kill, restart and check (the kill and the broken invariants),
    until a kill lands while its target works; each miss tries again with a shorter wait."""
    for _ in range(attempts):
        folder.change(new=3, edited=2, deleted=1)
        kill = inject(target, home, folder.root, rng, window_s)
        restart(home, folder.root)
        yield kill, violations(home, folder, embedder)
        if kill.hit:
            return
        window_s /= 3


def _reap(proc: subprocess.Popen[bytes]) -> None:
    leftovers = descendants(proc.pid) if proc.poll() is None else []
    if proc.poll() is None:
        kill_tree(proc.pid)
    kill_pids(leftovers)
    proc.wait(30)
    if proc.stderr is not None:
        proc.stderr.close()


def restart(home: Path, root: Path) -> float:
    """Run to completion; return its seconds. A restart that fails is a broken invariant."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "aifactory.cli", "run", str(root), "--tenant", TENANT,
                           "--jurisdiction", "EU"], env=run_env(home), capture_output=True, timeout=RUN_TIMEOUT_S,
                          start_new_session=True)
    if proc.returncode != 0:
        raise AssertionError(f"the restart failed (rc {proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return time.monotonic() - started


def violations(home: Path, folder: Folder, embedder: Embedder) -> list[str]:
    """What is wrong with the lake, the index and the dead letters, against the folder."""
    factory = Factory(FactorySettings(home=home), embedder=embedder)
    found: list[str] = []
    try:
        con = factory.lake.connect(RAW, CHUNKS, DEAD_LETTERS)
        for table, key in (("raw", "event_id"), ("chunks", "row_id"), ("dead_letters", "dead_letter_id")):
            rows, keys = con.execute(f"SELECT count(*), count(DISTINCT {key}) FROM {table}").fetchone() or (0, 0)
            if rows != keys:
                found.append(f"{table}: {rows - keys} row(s) held twice")
        rows = con.execute("SELECT count(*), count(DISTINCT (event_id, chunk_no)) FROM chunks").fetchone() or (0, 0)
        if rows[0] != rows[1]:
            found.append(f"chunks: {rows[0] - rows[1]} chunk(s) of one event held twice")
        latest = dict(con.execute("SELECT document_id, arg_max(op, version) FROM raw GROUP BY 1").fetchall())
        live = folder.live_ids()
        upserts = {d for d, op in latest.items() if op == "upsert"}
        if live - upserts:
            found.append(f"raw lake: {len(live - upserts)} live document(s) lost, e.g. {sorted(live - upserts)[:3]}")
        if upserts - live:
            found.append(f"raw lake: {len(upserts - live)} deleted document(s) still live, "
                         f"e.g. {sorted(upserts - live)[:3]}")
        letters = Counter(Path(uri).name for (uri,) in con.execute("SELECT source_uri FROM dead_letters").fetchall())
        if set(letters) != folder.bad or any(n != 1 for n in letters.values()):
            found.append(f"dead letters: {dict(letters)} for bad inputs {sorted(folder.bad)}")
        con.close()
        model_id = embedder.fingerprint.id
        expected = plan(factory.lake, model_id).points
        index = factory.index
        indexed: set[str] = set()
        for region in sorted(set(expected) | set(index.regions())):
            want = {pid: body["digest"] for pid, (_, body) in expected.get(region, {}).items()}
            have = index.digests(region) if region in index.regions() else {}
            if have != want:
                found.append(f"index {region}: {len(set(want) - set(have))} missing, {len(set(have) - set(want))} "
                             f"extra, {sum(have[p] != d for p, d in want.items() if p in have)} stale")
            for hit in index.points(region) if region in index.regions() else []:
                indexed.add(hit.payload["document_id"])
                indexed.update(d["document_id"] for d in hit.payload.get("duplicates", []))
        if indexed != live:
            found.append(f"index: documents {len(live - indexed)} missing, {len(indexed - live)} not live")
    finally:
        factory.close()
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20, help="effective kills of each target")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--docs", type=int, default=30, help="documents in the folder before the first round")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="aifactory-faults-"))
    rng = random.Random(args.seed)
    folder = Folder(work / "src", rng)
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.add(args.docs)
    home = work / "home"
    embedder = load_embedder()
    print(f"first build: {restart(home, folder.root):.1f} s; workdir {work}", flush=True)
    windows = {t: 6.0 for t in TARGETS}
    done: Counter[str] = Counter()
    kills: list[Kill] = []
    broken: list[str] = []
    targets = args.targets.split(",")
    while min(done[t] for t in targets) < args.kills and not broken:
        target = min(targets, key=lambda t: done[t])
        folder.change(new=4, edited=3, deleted=1)
        kill = inject(target, home, folder.root, rng, windows[target])
        kills.append(kill)
        if kill.hit:
            done[target] += 1
        else:  # the window was too long for a run this size
            windows[target] = max(0.5, windows[target] * 0.7)
        seconds = restart(home, folder.root)
        broken = violations(home, folder, embedder)
        print(json.dumps({"target": target, "hit": kill.hit, "kill_after_s": round(kill.after_s, 1),
                          "run_exit": kill.exit, "restart_s": round(seconds, 1), "live": len(folder.live_ids()),
                          "bad": len(folder.bad), "ok": not broken}), flush=True)
    for line in broken:
        print(f"BROKEN: {line}", flush=True)
    summary = {t: {"kills": done[t], "missed": sum(1 for k in kills if k.target == t and not k.hit),
                   "exits": dict(Counter(k.exit.split(" (")[0] for k in kills if k.target == t and k.hit))}
               for t in targets}
    print(json.dumps({"rounds": len(kills), "invariants_held": not broken, "targets": summary}, indent=2))
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
