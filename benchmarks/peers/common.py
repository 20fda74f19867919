"""What every system under test shares: the corpus, the changes made to it, the
freshness loop, the kill of a process tree, and the figures a child reports.

Each system runs in a child process of its own (`python -m benchmarks.peers.<system>`),
so that its peak memory (ru_maxrss) is its own. A child runs the phases it is
asked for and prints one JSON line of figures on stdout, prefixed by RESULT.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHUNK_TOKENS = 200  # our chunker's size (transforms/chunking.py, tokens-200-32), in model tokens
CHUNK_OVERLAP = 32
EMBED_BATCH = 64  # peers' embedding batch (their defaults are 10 and 32; larger is kinder to them on a CPU)
EDITS = 10  # documents edited, then deleted, in the incremental phases
ROUND_TIMEOUT_S = 120.0
RESULT = "RESULT "
KILL_BATCH = 25  # files per batch when a peer ingests resumably (the kill phase)


def st_dtype(precision: str) -> dict[str, Any]:
    """SentenceTransformer keyword arguments that load the model in `precision` (a peer
    tuned by hand: `--peer-precision bf16`); fp32, as the peers ship, adds none."""
    if precision not in ("bf16", "fp16"):
        return {}
    import torch

    return {"model_kwargs": {"torch_dtype": {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]}}


def model_path() -> str:
    """The offline all-MiniLM-L6-v2 that vectorstore/ loads; peers get the same folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from vectorstore.embedder import default_model_path

    return str(default_model_path())


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@dataclass
class Change:
    """One file added, edited or deleted; `marker` is text only its new version holds."""

    kind: str
    path: Path
    marker: str = ""


def edit_file(path: Path, marker: str) -> None:
    path.write_text(path.read_text() + f"\n\n{marker}\n")


def changes(root: Path, seed: int = 11) -> Iterator[Change]:
    """Add, edit, delete in turn, under the first tenant's folder; applied when yielded."""
    rng = random.Random(seed)
    folder = sorted(p for p in root.iterdir() if p.is_dir())[0]
    added: list[Path] = []
    n = 0
    while True:
        n += 1
        marker = f"Freshness marker {n:04d} {rng.randrange(10**6):06d}: the dock {n} badge reader was replaced."
        kind = ("add", "edit", "delete")[n % 3]
        if kind == "add":
            path = folder / f"fresh-{n:04d}.md"
            path.write_text(f"# Fresh note {n}\n\n{marker}\n")
            added.append(path)
        elif kind == "edit":
            path = rng.choice(sorted(folder.rglob("doc-*.md")))
            edit_file(path, marker)
        else:
            path = added.pop(0) if added else rng.choice(sorted(folder.rglob("doc-*.md")))
            path.unlink()
            marker = ""
        yield Change(kind, path, marker)


@dataclass
class Pending:
    change: Change
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)


def freshness(cycle: Callable[[], None], reflects: Callable[[Change], bool], root: Path, n: int,
              interval_s: float) -> list[float]:
    """Run `cycle` in a loop in a thread (a service polling its sources every
    `interval_s`); make `n` changes one at a time at random moments of that loop
    and time each until a cycle ends after which `reflects` says search shows it."""
    stop = threading.Event()
    current: list[Pending] = []
    failure: list[BaseException] = []
    rng = random.Random(5)

    def loop() -> None:
        try:
            while not stop.is_set():
                cycle()
                ended = time.perf_counter()
                if current and not current[-1].done.is_set() and reflects(current[-1].change):
                    current[-1].seconds = ended - current[-1].started
                    current[-1].done.set()
                stop.wait(interval_s)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            failure.append(exc)
            for p in current:
                p.done.set()

    thread = threading.Thread(target=loop, name="service")
    thread.start()
    out: list[float] = []
    try:
        source = changes(root)
        for i in range(n + 1):  # the first one warms the loop up and is not counted
            time.sleep(rng.uniform(0, interval_s))
            current.append(Pending(next(source)))
            if not current[-1].done.wait(ROUND_TIMEOUT_S) or failure:
                raise RuntimeError(f"change {i} ({current[-1].change.kind}) not reflected in {ROUND_TIMEOUT_S:.0f} s"
                                   ) from (failure[0] if failure else None)
            if i:
                out.append(current[-1].seconds)
    finally:
        stop.set()
        thread.join()
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p99": round(p99, 3), "n": len(ordered)}


class ChildrenPeak:
    """The peak of the summed RSS of every process below this one (ours: the broker and
    the faust worker), sampled twice a second from /proc. RUSAGE_CHILDREN would not do:
    a child forked from this process counts the parent's pages it shared until its exec."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.peak_kb = 0
        self.every_s = every_s
        threading.Thread(target=self._sample, name="rss-sampler", daemon=True).start()

    def _sample(self) -> None:
        own = cmdline(os.getpid())
        while True:
            # A child caught between fork and exec still runs our command line and counts our
            # pages (the broker and worker are forked, not vfork'ed, to tie them to their parent).
            self.peak_kb = max(self.peak_kb, sum(rss_kb(pid) for pid in descendants(os.getpid())
                                                 if cmdline(pid) != own))
            time.sleep(self.every_s)


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


_CHILDREN_PEAK: ChildrenPeak | None = None


def peak_rss_mb() -> dict[str, int]:
    """This process's peak, and its children's summed peak (see ChildrenPeak)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return {"rss_mb_self": own, "rss_mb_children": (_CHILDREN_PEAK.peak_kb if _CHILDREN_PEAK else 0) // 1024}


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children in their own sessions included), from /proc."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent_of[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        nxt = [p for p, pp in parent_of.items() if pp in frontier]
        found.extend(nxt)
        frontier = nxt
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything below it, as a host losing power would:
    the broker and the faust worker run in sessions of their own, so a group
    kill alone would leave them orphaned."""
    kill_pids([pid, *descendants(pid)])


def kill_pids(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def child_args(description: str) -> argparse.Namespace:
    global _CHILDREN_PEAK
    _CHILDREN_PEAK = _CHILDREN_PEAK or ChildrenPeak()
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--phase", choices=["main", "kill", "resume"], default="main")
    ap.add_argument("--changes", type=int, default=50)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--backend", choices=["torch", "onnx"], default="torch", help="our embedding backend (ours only)")
    ap.add_argument("--precision", default="auto",
                    help="torch number format: ours, auto|fp32|bf16; peers, fp32 (as they ship) or bf16")
    return ap.parse_args()


def report(figures: dict[str, Any]) -> None:
    figures.update(peak_rss_mb())
    print(RESULT + json.dumps(figures), flush=True)
