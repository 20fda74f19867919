"""Extraction-to-chunks throughput on a mixed generated corpus, stage by stage.

    python -m benchmarks.extraction --docs 2000

Runs the same pure functions the ingest edge and the faust agent run, in one
process: read bytes -> parse (extract) -> redact -> normalise + chunk -> screen.
Prints MB/s and documents/s for each stage and the ratio of the whole chain to the
time it takes merely to read the bytes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.corpus import document
from governance.pii import redact
from governance.privacy import PrivacyPolicy, tenant_key
from ingest.parsers import parse
from tests.fixtures.pdfs import text_pdf
from transforms.chunking import chunk, normalise, strip_invisible
from transforms.injection import screen
from transforms.tokens import token_counter
from vectorstore.embedder import default_model_path

PII_LINE = "Contact: jana.keller@helio-robotics.eu, +49 89 1234 5678, IBAN DE89 3704 0044 0532 0130 00."


def write_corpus(root: Path, n_docs: int, target_bytes: int) -> list[Path]:
    import random

    rng = random.Random(11)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(n_docs):
        title, text = document(rng, n, target_bytes)
        if n % 10 == 0:
            text += "\n\n" + PII_LINE
        kind = n % 6
        path = root / f"doc-{n:06d}.{['md', 'txt', 'html', 'pdf', 'csv', 'jsonl'][kind]}"
        if kind == 2:
            body = "".join(f"<p>{p}</p>" for p in text.split("\n\n")[1:])
            path.write_text(f"<html><head><title>{title}</title><script>x()</script></head><body>{body}</body></html>")
        elif kind == 3:
            pages = text.split("\n\n")
            path.write_bytes(text_pdf([" ".join(pages[i:i + 3]) for i in range(0, len(pages), 3)], title=title))
        elif kind == 4:
            path.write_text("id,title,text\n" + f'{n},"{title}","{text.replace(chr(34), "")}"\n')
        elif kind == 5:
            path.write_text(json.dumps({"id": str(n), "title": title, "text": text}) + "\n")
        else:
            path.write_text(text)
        paths.append(path)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--bytes", type=int, default=2048)
    args = ap.parse_args()
    paths = write_corpus(Path(tempfile.mkdtemp(prefix="aifactory-extract-")), args.docs, args.bytes)
    counter = token_counter(default_model_path())
    policy, key = PrivacyPolicy(), tenant_key(b"bench-secret", "bench")
    modes = policy.modes("bench", "EU")
    seconds: dict[str, float] = defaultdict(float)
    total_bytes = documents = chunks = quarantined = 0

    for path in paths:
        t = time.perf_counter()
        data = path.read_bytes()
        seconds["read"] += time.perf_counter() - t
        total_bytes += len(data)
        t = time.perf_counter()
        docs = parse(path.name, data)
        seconds["parse"] += time.perf_counter() - t
        for doc in docs:
            documents += 1
            t = time.perf_counter()
            text = redact(doc.text, modes, key=key).text
            seconds["redact"] += time.perf_counter() - t
            t = time.perf_counter()
            pieces = chunk(normalise(text), counter)
            seconds["chunk"] += time.perf_counter() - t
            t = time.perf_counter()
            for piece in pieces:
                quarantined += screen(piece.text).quarantined()
                strip_invisible(piece.text)
            seconds["screen"] += time.perf_counter() - t
            chunks += len(pieces)

    mb = total_bytes / 1e6
    chain = sum(v for k, v in seconds.items() if k != "read")
    print(f"{len(paths)} files, {documents} documents, {mb:.2f} MB, {chunks} chunks, {quarantined} quarantined")
    print(f"{'stage':<10}{'seconds':>9}{'MB/s':>10}{'docs/s':>10}")
    for stage in ("read", "parse", "redact", "chunk", "screen"):
        s = seconds[stage]
        print(f"{stage:<10}{s:>9.2f}{mb / s:>10.1f}{documents / s:>10.0f}")
    print(f"{'chain':<10}{chain:>9.2f}{mb / chain:>10.1f}{documents / chain:>10.0f}")
    print(f"chain time / read time: {chain / seconds['read']:.0f}x")


if __name__ == "__main__":
    main()
