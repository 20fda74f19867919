"""A bounded soak of the vector API on loopback while ingestion runs.

    python -m benchmarks.soak --minutes 5 --tenants 3 --clients 4

The embedded index (Qdrant Edge) has one writer process (see IndexBusyError in
vectorstore/edge.py), so `aifactory serve` and `aifactory run --follow` cannot share a
data directory. Here ingestion runs inside the serving process: a child process
builds the factory once, serves the API (uvicorn, as `aifactory serve` does) and runs
the resident mode's Follower in a thread on the same index. API deletes go through the
pipeline too (pipeline/service.py), so one lock makes a follower cycle and an API
delete take turns; searches and contexts run beside both. (With a Qdrant server,
QDRANT_URL, `serve` and `run --follow` can run as two processes instead.)

The parent process keeps adding documents to every tenant's folder, and its clients
send mixed search (70%), RAG context (25%) and delete (5%, of documents of the first
build, until half are gone) calls for --minutes, each with the key of a random tenant. It reports errors
(any non-2xx response), cross-tenant results (a hit or citation of another tenant's
document, or text naming another tenant: must be 0), latencies, documents ingested,
and the RSS of the serving process, its broker and its worker, sampled over time.

The serving process's RSS is a saw-tooth; judge it by the lowest RSS of each minute
(`minute_minima`). RSS counts file-backed pages too (libraries, the model's weights, index
segments: page cache the kernel can drop), so `serving_file` reports them apart, and the
serving process writes its anonymous and file-backed RSS, glibc's heap (held and in use)
and its most resident mapped files to work/native.jsonl every few seconds. To tell
Python's heap from native memory, `--trace-memory MINUTES`
runs tracemalloc in the serving process and writes the allocation sites that grew
most, and Python heap against RSS, to the work directory. The serving process caps
glibc's malloc arenas as `aifactory serve` does (aifactory/malloc.py); run it with
MALLOC_ARENA_MAX=16 (glibc's default on 2 cores) to see the RSS without the cap.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchmarks.corpus import TOPICS, document
from benchmarks.peers.common import descendants

SAMPLE_S = 5.0
START_TIMEOUT_S = 300.0
QUESTIONS = [f"how do I reset the {t} module" for t in TOPICS] + [f"{t} policy for the fleet" for t in TOPICS]


def tenant_names(n: int) -> list[str]:
    return [f"soak{i}-{'eu' if i % 2 == 0 else 'us'}" for i in range(n)]


def write_doc(folder: Path, tenant: str, n: int, rng: random.Random) -> Path:
    _, text = document(rng, n, 1500)
    path = folder / f"doc-{n:05d}.md"
    path.write_text(f"{text}\n\nOwner: {tenant}. Maintained by the {tenant} operations team.\n")
    return path


# --- the serving process ---------------------------------------------------------------------


def status_mb(pid: int, *fields: str) -> list[float]:
    """`fields` of /proc/<pid>/status (VmRSS, RssAnon, RssFile, ...) in MB."""
    values = {line.split(":")[0]: int(line.split()[1]) / 1024
              for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith(fields)}
    return [values[f] for f in fields]


def own_rss_mb() -> float:
    return status_mb(os.getpid(), "VmRSS")[0]


def malloc_mb() -> dict[str, float]:
    """glibc's own account (mallinfo2): bytes its heap holds from the system, and bytes in
    use in it. Native code that allocates with malloc (torch, oneDNN, Rust's default
    allocator) counts here; file mappings do not. Empty without glibc 2.33+."""
    import ctypes

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                    "fsmblks", "uordblks", "fordblks", "keepcost")]
    try:
        call = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return {}
    call.restype = Info
    info = call()
    return {"malloc_held_mb": round((info.arena + info.hblkhd) / 2**20, 1),
            "malloc_in_use_mb": round((info.uordblks + info.hblkhd) / 2**20, 1)}


def trace_memory(work: Path, every_s: float, stop: threading.Event) -> threading.Thread:
    """A diagnostic (--trace-memory): tracemalloc from now on, and every `every_s` (and
    once more when `stop` is set) the allocation sites that grew most since the start, by
    traceback (10 frames), in work/tracemalloc-NNN.txt, and Python heap against RSS in
    work/memory.jsonl."""
    import tracemalloc

    tracemalloc.start(10)
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    base = tracemalloc.take_snapshot().filter_traces(ignore)
    started = time.monotonic()

    def sample() -> None:
        snap = tracemalloc.take_snapshot().filter_traces(ignore)
        elapsed = time.monotonic() - started
        stats = snap.compare_to(base, "traceback")
        traced = tracemalloc.get_traced_memory()[0] / 2**20
        with (work / "memory.jsonl").open("a") as f:
            f.write(json.dumps({"s": round(elapsed), "traced_mb": round(traced, 1), "rss_mb": round(own_rss_mb(), 1),
                                "traced_growth_mb": round(sum(st.size_diff for st in stats) / 2**20, 1)}) + "\n")
        lines = [f"after {elapsed:.0f} s: traced {traced:.1f} MB, RSS {own_rss_mb():.1f} MB"]
        for st in stats[:25]:
            lines.append(f"\n{st.size_diff / 2**10:+.1f} KiB ({st.count_diff:+d} blocks), "
                         f"now {st.size / 2**10:.1f} KiB")
            lines.extend(f"    {line}" for line in st.traceback.format())
        (work / f"tracemalloc-{round(elapsed):05d}.txt").write_text("\n".join(lines) + "\n")

    def loop() -> None:
        while not stop.wait(every_s):
            sample()
        sample()

    thread = threading.Thread(target=loop, name="trace-memory", daemon=True)
    thread.start()
    return thread


def mapped_files_mb(top: int = 6) -> dict[str, float]:
    """The files mapped into this process with the most resident pages (libraries, model
    weights, index segments), from /proc/self/smaps."""
    resident: Counter[str] = Counter()
    path = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's first line
            path = head[5] if len(head) > 5 and head[5].startswith("/") else ""
        elif path and head[0] == "Rss:":
            resident[path] += int(head[1])
    return {p: round(kb / 1024, 1) for p, kb in resident.most_common(top)}


def sample_native(work: Path, stop: threading.Event) -> threading.Thread:
    """Every SAMPLE_S: the serving process's anonymous and file-backed RSS, glibc's heap
    (held and in use) and the mapped files with most resident pages, to work/native.jsonl:
    whether what grows is mapped files, malloc'd memory, or memory outside malloc."""
    started = time.monotonic()

    def loop() -> None:
        while not stop.wait(SAMPLE_S):
            rss, anon, file_backed = status_mb(os.getpid(), "VmRSS", "RssAnon", "RssFile")
            with (work / "native.jsonl").open("a") as f:
                f.write(json.dumps({"s": round(time.monotonic() - started), "rss_mb": round(rss, 1),
                                    "rss_anon_mb": round(anon, 1), "rss_file_mb": round(file_backed, 1),
                                    **malloc_mb(), "files_mb": mapped_files_mb()}) + "\n")

    thread = threading.Thread(target=loop, name="sample-native", daemon=True)
    thread.start()
    return thread


def serve_and_ingest(work: Path, tenants: list[str], trace_every_s: float = 0.0) -> None:
    """The child: the API and a follower over the tenants' folders, one process, one index."""
    from aifactory.malloc import limit_arenas

    limit_arenas()  # as `aifactory serve` and `run --follow` do (aifactory/malloc.py)
    import uvicorn

    import pipeline.service as service
    from aifactory.serve import ApiSettings, build, key_store
    from ingest.sources import Source
    from pipeline import runner
    from pipeline.factory import Factory
    from pipeline.follow import Follower
    from pipeline.settings import FactorySettings

    factory = Factory(FactorySettings(home=work / "home", stage_timeout_s=600))
    sources = [Source(work / "src" / t, t, "EU" if t.endswith("eu") else "US") for t in tenants]
    runner.run(factory, sources)
    store = key_store(factory)
    tokens = {}
    for t in tenants:
        region = "eu-central" if t.endswith("eu") else "us-east"
        tokens[t] = {role: store.create(t, role, [region])[1] for role in ("reader", "writer")}
    turn = threading.Lock()  # a follower cycle and an API delete take turns on the pipeline
    unlocked = service.delete

    def delete_in_turn(*args: Any, **kwargs: Any) -> Any:
        with turn:
            return unlocked(*args, **kwargs)

    service.delete = delete_in_turn
    app, backend = build(factory, ApiSettings(rate_per_s=0))
    stop = threading.Event()
    stats: Counter[str] = Counter()

    def ingest() -> None:
        with runner.connection(factory, None) as conn, Follower(factory, sources, conn) as follower:
            while not stop.is_set():
                try:
                    with turn:
                        report = follower.cycle()
                    stats["cycles"] += 1
                    stats["published"] += report.published
                    stats["points_upserted"] += report.index.upserted if report.index else 0
                except Exception as exc:  # noqa: BLE001 - counted and reported; the follower restarts its stream
                    stats[f"cycle_error:{type(exc).__name__}"] += 1
                    follower.restart()
                stop.wait(1.0)

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                           lifespan="off"))
    ingester = threading.Thread(target=ingest, name="ingest")
    ingester.start()
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    web = threading.Thread(target=server.run, name="api")
    web.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    tracer = trace_memory(work, trace_every_s, stop) if trace_every_s else None
    sample_native(work, stop)
    (work / "ready.json").write_text(json.dumps({"url": f"http://127.0.0.1:{port}", "tokens": tokens}))
    web.join()
    stop.set()
    ingester.join()
    if tracer is not None:
        tracer.join()
    backend.close()
    factory.close()
    (work / "served.json").write_text(json.dumps(stats))


# --- the load ----------------------------------------------------------------------------------


PARTS = ("serving", "broker", "worker")


def rss_mb(pid: int) -> dict[str, float]:
    """RSS of the serving process and of what it started, by part: `serving` (the API,
    the follower, the index), `broker` (Tansu keeps every record in memory, so it grows
    with what is ingested by design), `worker` (the faust transform worker). Also the
    serving process's RSS in its two kinds: `serving_anon` (its own memory) and
    `serving_file` (mapped files such as libraries and the index's segments: page cache
    the kernel can drop)."""
    parts: dict[str, float] = dict.fromkeys(PARTS, 0.0)
    for p in [pid, *descendants(pid)]:
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            rss, anon, file_backed = status_mb(p, "VmRSS", "RssAnon", "RssFile")
        except (OSError, KeyError, IndexError):
            continue
        part = "serving" if p == pid else "broker" if "tansu" in cmd else "worker"
        parts[part] += rss
        if p == pid:
            parts["serving_anon"], parts["serving_file"] = anon, file_backed
    return parts


def memory(rss: list[tuple[float, dict[str, float]]]) -> dict[str, dict[str, object]]:
    """Per part (and in all): first, max and last RSS, the slope over the second half, and
    the lowest RSS of each minute with the slope of those from the second minute on: the
    serving process's RSS is a saw-tooth (requests allocate and free), its floor says
    whether memory is kept."""
    out: dict[str, dict[str, object]] = {}
    for part in ["all", *(rss[0][1] if rss else {})]:
        series = [(t, sum(m[p] for p in PARTS) if part == "all" else m.get(part, 0.0)) for t, m in rss]
        half = [(t, m) for t, m in series if t >= series[-1][0] / 2]
        slope = statistics.linear_regression([t for t, _ in half], [m for _, m in half]).slope * 60 \
            if len(half) >= 2 else 0.0
        minutes: dict[int, float] = {}
        for t, m in series:
            minutes[int(t // 60)] = min(m, minutes.get(int(t // 60), m))
        floors = sorted(minutes.items())[1:]
        floor_slope = statistics.linear_regression([w for w, _ in floors], [m for _, m in floors]).slope \
            if len(floors) >= 2 else 0.0
        out[part] = {"first": round(series[0][1]), "max": round(max(m for _, m in series)),
                     "last": round(series[-1][1]), "second_half_slope_mb_per_min": round(slope, 1),
                     "minute_minima": [round(m) for _, m in sorted(minutes.items())],
                     "minima_slope_mb_per_min": round(floor_slope, 1)}
    return out


class Load:
    def __init__(self, url: str, tokens: dict[str, dict[str, str]], deletable: dict[str, list[str]]) -> None:
        self.url, self.tokens, self.deletable = url, tokens, deletable
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.cross_tenant = 0
        self.latency: dict[str, list[float]] = {"search": [], "context": [], "delete": []}
        self.lock = threading.Lock()

    def foreign(self, tenant: str, doc_ids: list[str], texts: list[str]) -> int:
        others = [t for t in self.tokens if t != tenant]
        bad = sum(1 for d in doc_ids if not d.startswith(f"{tenant}:"))
        return bad + sum(1 for text in texts for o in others if f"Owner: {o}." in text)

    def call(self, client: httpx.Client, rng: random.Random) -> None:
        tenant = rng.choice(list(self.tokens))
        roll = rng.random()
        started = time.perf_counter()
        if roll < 0.05:
            with self.lock:
                doc = self.deletable[tenant].pop(0) if self.deletable[tenant] else None
            if doc is None:
                return
            kind = "delete"
            r = client.delete(f"{self.url}/v1/documents/{doc}",
                              headers={"Authorization": f"Bearer {self.tokens[tenant]['writer']}"})
            foreign = 0
        elif roll < 0.30:
            kind = "context"
            r = client.post(f"{self.url}/v1/rag/context", json={"question": rng.choice(QUESTIONS), "token_budget": 512},
                            headers={"Authorization": f"Bearer {self.tokens[tenant]['reader']}"})
            body = r.json() if r.is_success else {}
            foreign = self.foreign(tenant, [c["document_id"] for c in body.get("citations", [])],
                                   [body.get("context", "")])
        else:
            kind = "search"
            r = client.post(f"{self.url}/v1/search", json={"query": rng.choice(QUESTIONS), "top_k": 10},
                            headers={"Authorization": f"Bearer {self.tokens[tenant]['reader']}"})
            hits = r.json().get("hits", []) if r.is_success else []
            foreign = self.foreign(tenant, [h["citation"]["document_id"] for h in hits], [h["text"] for h in hits])
        with self.lock:
            self.counts[kind] += 1
            self.latency[kind].append(time.perf_counter() - started)
            self.cross_tenant += foreign
            if not r.is_success:
                self.errors[f"{kind} {r.status_code}"] += 1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000 if ordered else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--tenants", type=int, default=3)
    ap.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    ap.add_argument("--docs", type=int, default=60, help="documents per tenant before the soak")
    ap.add_argument("--add-every", type=float, default=2.0, help="seconds between written documents (per tenant)")
    ap.add_argument("--feed", choices=("add", "edit"), default="add",
                    help="add new documents (the data grows), or rewrite documents of the first build that are "
                         "never deleted (the live data stays the same size, so memory can be judged flat)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--trace-memory", type=float, default=0.0, metavar="MINUTES",
                    help="diagnostic: tracemalloc in the serving process; every MINUTES (and at the end) the "
                         "allocation sites that grew most go to <workdir>/tracemalloc-*.txt, and Python heap "
                         "against RSS to <workdir>/memory.jsonl (slows the serving process)")
    ap.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)  # the child
    args = ap.parse_args()
    tenants = tenant_names(args.tenants)
    if args.serve:
        serve_and_ingest(args.serve, tenants, args.trace_memory * 60)
        return

    work = args.workdir or Path(tempfile.mkdtemp(prefix="aifactory-soak-"))
    rng = random.Random(9)
    counters = dict.fromkeys(tenants, 0)
    for t in tenants:
        (work / "src" / t).mkdir(parents=True, exist_ok=True)
        for _ in range(args.docs):
            write_doc(work / "src" / t, t, counters[t], rng)
            counters[t] += 1
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    with (work / "server.log").open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "benchmarks.soak", "--serve", str(work),
                                   "--tenants", str(args.tenants), "--trace-memory", str(args.trace_memory)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (work / "ready.json").exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the serving process did not start; see {work / 'server.log'}")
        time.sleep(0.2)
    ready = json.loads((work / "ready.json").read_text())
    # Deletes name documents of the first build (an added one may not be ingested yet: 404).
    load = Load(ready["url"], ready["tokens"], {t: [f"{t}:doc-{n:05d}.md" for n in range(0, args.docs, 2)]
                                               for t in tenants})
    stop = threading.Event()
    rss: list[tuple[float, dict[str, float]]] = []
    started = time.monotonic()

    def client(seed: int) -> None:
        r = random.Random(seed)
        with httpx.Client(timeout=60) as c:
            while not stop.is_set():
                try:
                    load.call(c, r)
                except httpx.HTTPError as exc:
                    with load.lock:
                        load.errors[type(exc).__name__] += 1

    written = [0]

    def feeder() -> None:
        while not stop.wait(args.add_every):
            for t in tenants:
                # Odd-numbered documents of the first build are never deleted by the load.
                n = counters[t] if args.feed == "add" else 1 + 2 * (written[0] % max(args.docs // 2, 1))
                write_doc(work / "src" / t, t, n, rng)
                counters[t] += args.feed == "add"
            written[0] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=feeder))
    for th in threads:
        th.start()
    try:
        while time.monotonic() - started < args.minutes * 60:
            rss.append((time.monotonic() - started, rss_mb(server.pid)))
            time.sleep(SAMPLE_S)
    finally:
        stop.set()
        for th in threads:
            th.join()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(180)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(30)
    served = json.loads((work / "served.json").read_text()) if (work / "served.json").exists() else {}
    total = sum(load.counts.values())
    print(json.dumps({
        "minutes": args.minutes, "tenants": len(tenants), "clients": args.clients,
        "requests": dict(load.counts), "requests_per_s": round(total / (args.minutes * 60), 1),
        "errors": dict(load.errors), "cross_tenant_results": load.cross_tenant,
        "latency_ms": {k: {"p50": round(pct(v, 0.5), 1), "p99": round(pct(v, 0.99), 1)}
                       for k, v in load.latency.items() if v},
        "feed": args.feed, "documents_written_during_soak": written[0] * len(tenants),
        "ingestion": served,
        "rss_mb": memory(rss) if rss else {},
        "rss_mb_samples_all": [round(sum(m[p] for p in PARTS)) for _, m in rss],
        "workdir": str(work),
    }, indent=2))
    if load.errors or load.cross_tenant:
        sys.exit(1)


if __name__ == "__main__":
    main()
