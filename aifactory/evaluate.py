"""`aifactory eval`: a BEIR-format retrieval evaluation through the real pipeline.

The corpus (`corpus.jsonl`: `_id`, `title`, `text`) is ingested as one tenant into
a data directory of its own, chunked, embedded and indexed like any source; each
query (`queries.jsonl`: `_id`, `text`) is searched in every mode, and in hybrid mode
also without putting exact identifiers first (plain rank fusion, the default before it);
a document ranks where its best chunk ranks. Judgements come from a TSV
(`query-id`, `corpus-id`, `score`, with a header), as in BEIR's qrels. Beside nDCG@10,
recall@100 and MRR, the identifier hit rate: of the judged queries that hold an exact
identifier (vectorstore/identifiers.py), the share whose relevant document ranks first.
Each set's report is kept in its data directory, and the next run shows it beside its own.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from aifactory.errors import CommandError
from ingest.errors import SourceError
from ingest.records import RecordFields
from ingest.sources import Source
from pipeline import runner
from pipeline.deadletters import list_dead_letters
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from pipeline.status import indexed_documents
from vectorstore.embedder import Embedder
from vectorstore.identifiers import identifiers
from vectorstore.index import Mode
from vectorstore.metrics import summarise
from vectorstore.search import search

EVAL_TENANT = "eval"
DEPTH = 100
REPORT = "report.json"
# label -> (mode, exact identifiers first); "hybrid-rrf" is hybrid as it ranked before identifiers.
VARIANTS: dict[str, tuple[Mode, bool]] = {"dense": ("dense", True), "keyword": ("keyword", True),
                                          "hybrid-rrf": ("hybrid", False), "hybrid": ("hybrid", True)}


class EvaluationError(CommandError):
    """An evaluation that could not measure what it was asked to: scores over a corpus
    that was not (wholly) indexed would be wrong, not low."""


def read_queries(path: Path) -> dict[str, str]:
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return {str(r["_id"]): str(r["text"]) for r in rows}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SourceError(f"{path}: not a BEIR queries file (JSON lines with _id and text): {exc}") from exc


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            next(reader)  # the header
            qrels: dict[str, dict[str, int]] = defaultdict(dict)
            for row in reader:
                if row:
                    qrels[row[0]][row[1]] = int(float(row[2]))
        return dict(qrels)
    except (OSError, ValueError, IndexError, StopIteration) as exc:
        raise SourceError(f"{path}: not a BEIR qrels file (TSV: query-id, corpus-id, score, with a header): "
                          f"{exc}") from exc


def ranked_documents(results: list[Any]) -> list[str]:
    """Corpus ids in the order of their best chunk."""
    seen: dict[str, None] = {}
    for r in results:
        seen.setdefault(r.document_id.rsplit("#", 1)[-1], None)
    return list(seen)


def evaluate(settings: FactorySettings, corpus: Path, queries: Path, qrels: Path, *,
             embedder: Embedder | None = None, jurisdiction: str = "EU") -> dict[str, Any]:
    """Ingest `corpus` into `<home>/eval/<corpus hash>`, then score dense and hybrid search."""
    if not corpus.is_file():
        raise SourceError(f"{corpus}: no such corpus file; pass a BEIR corpus.jsonl")
    questions, judgements = read_queries(queries), read_qrels(qrels)
    digest = hashlib.sha256(corpus.read_bytes()).hexdigest()[:12]
    home = settings.home / "eval" / digest
    staging = home / "corpus"
    staging.mkdir(parents=True, exist_ok=True)
    shutil.copy(corpus, staging / "corpus.jsonl")
    factory = Factory(settings.model_copy(update={"home": home}), embedder=embedder)
    try:
        fields = RecordFields(id="_id", title="title", text=("text",), metadata=())
        run = runner.run(factory, [Source(staging, EVAL_TENANT, jurisdiction, fields)])
        check_indexed(factory, corpus)
        report: dict[str, Any] = {"corpus": str(corpus), "documents_published": run.published,
                                  "documents": indexed_documents(factory), "home": str(home), "modes": {}}
        for label, (mode, exact) in VARIANTS.items():
            runs = {qid: ranked_documents(search(factory.index, factory.embedder, text, tenant=EVAL_TENANT,
                                                 top_k=DEPTH, mode=mode, exact_identifiers=exact))
                    for qid, text in questions.items()}
            report["modes"][label] = {**summarise(runs, judgements),
                                      **identifier_hits(runs, judgements, questions)}
        saved = home / REPORT
        report["previous"] = previous(saved)
        saved.write_text(json.dumps({k: v for k, v in report.items() if k != "previous"}, indent=2))
        return report
    finally:
        factory.close()


def identifier_hits(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]],
                    questions: dict[str, str]) -> dict[str, Any]:
    """Of the judged queries holding an identifier, how many, and the share whose relevant document is first."""
    asked = [q for q in qrels if q in questions and identifiers(questions[q]) and any(qrels[q].values())]
    first = sum(1 for q in asked if runs.get(q) and qrels[q].get(runs[q][0], 0) > 0)
    return {"identifier_queries": len(asked), "identifier_first": first / len(asked) if asked else None}


def previous(path: Path) -> dict[str, Any] | None:
    """The modes of the last report on this corpus, if one was kept."""
    try:
        return dict(json.loads(path.read_text())["modes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_indexed(factory: Factory, corpus: Path) -> None:
    """Refuse to score a corpus of which any record was not indexed."""
    with corpus.open(encoding="utf-8", errors="replace") as fh:
        records = sum(1 for line in fh if line.strip())
    indexed = indexed_documents(factory)
    if indexed >= records:
        return
    letters = list_dead_letters(factory)
    first = f"; the first: {letters[0]['reason']}" if letters else ""
    raise EvaluationError(f"only {indexed:,} of the corpus's {records:,} records were indexed, so no score would "
                          f"be right; {len(letters)} dead letter(s){first}. See them with AIFACTORY_HOME="
                          f"{factory.settings.home} aifactory dlq list")


def _cell(now: float | None, before: float | None) -> str:
    if now is None:
        return f"{'-':>15}"
    was = f"({before:.3f})" if before is not None else "(   -  )"
    return f"{now:>7.3f} {was}"


def format_report(name: str, report: dict[str, Any]) -> str:
    """One table: each mode's figures, the last run's in brackets beside them."""
    before = report.get("previous") or {}
    head = f"{'mode':<11}" + "".join(f"{h:>16}" for h in ("nDCG@10", "recall@100", "MRR", "identifier@1"))
    lines = [f"{name}: {report['documents']} documents", head]
    for label, m in report["modes"].items():
        was = before.get(label, {})
        lines.append(f"{label:<11}" + "".join(" " + _cell(m[k], was.get(k))
                                             for k in ("ndcg@10", "recall@100", "mrr", "identifier_first")))
    first = next(iter(report["modes"].values()))
    lines.append(f"{first['queries']} judged queries, {first['identifier_queries']} with an identifier; "
                 f"(last run's figures); index in {report['home']}")
    return "\n".join(lines)
