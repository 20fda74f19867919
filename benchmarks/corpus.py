"""A generated corpus for benchmarks: documents of about 2 KB in md, txt, html and
jsonl, for two tenants, deterministic for a given seed."""

from __future__ import annotations

import json
import random
from pathlib import Path

TOPICS = ["battery", "charging", "navigation", "safety", "warranty", "payroll", "travel", "onboarding",
          "firmware", "pricing", "security", "maintenance", "conveyor", "forklift", "inventory", "returns"]
_VOCABULARY = ("robot fleet dock aisle pallet sensor lidar map route shift operator ticket customer invoice "
         "order warehouse picker tote shelf scanner update release policy employee manager approval "
         "limit budget report incident outage latency network gateway certificate badge access audit "
         "calibration wheel motor torque voltage current cell module error code reset restart")
WORDS = _VOCABULARY.split()


def paragraph(rng: random.Random, topic: str, n_words: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    words[rng.randrange(n_words)] = topic
    return " ".join(words).capitalize() + "."


def document(rng: random.Random, n: int, target_bytes: int) -> tuple[str, str]:
    topic = TOPICS[n % len(TOPICS)]
    title = f"{topic.title()} note {n}"
    parts = [f"# {title}"]
    while sum(len(p) + 1 for p in parts) < target_bytes:
        if rng.random() < 0.2:
            parts.append(f"## {rng.choice(TOPICS).title()} section")
        parts.append(paragraph(rng, topic, rng.randint(30, 70)))
    return title, "\n\n".join(parts)


def generate(root: Path, n_docs: int, *, target_bytes: int = 2048, seed: int = 7) -> dict[str, Path]:
    """Write `n_docs` documents split over two tenants; return tenant -> folder."""
    rng = random.Random(seed)
    folders = {"bench-eu": root / "bench-eu", "bench-us": root / "bench-us"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    # Records go to one JSONL file per batch folder: a single file for the whole corpus grew
    # past the 20 MB per-file limit at 100k documents and was refused whole (a dead letter).
    jsonl: dict[Path, list[str]] = {}
    for n in range(n_docs):
        tenant = "bench-eu" if n % 2 == 0 else "bench-us"
        title, text = document(rng, n, target_bytes)
        kind = n % 4
        folder = folders[tenant] / f"batch-{n // 200:03d}"
        folder.mkdir(exist_ok=True)
        if kind == 0:
            (folder / f"doc-{n:06d}.md").write_text(text)
        elif kind == 1:
            (folder / f"doc-{n:06d}.txt").write_text(text.replace("# ", ""))
        elif kind == 2:
            body = "".join(f"<p>{p}</p>" for p in text.split("\n\n")[1:])
            (folder / f"doc-{n:06d}.html").write_text(
                f"<html><head><title>{title}</title><style>p{{}}</style></head><body><h1>{title}</h1>{body}</body></html>")
        else:
            jsonl.setdefault(folder, []).append(json.dumps({"id": f"R-{n:06d}", "title": title, "text": text}))
    for folder, lines in jsonl.items():
        (folder / "records.jsonl").write_text("\n".join(lines) + "\n")
    return folders
