"""Run-level lineage for the factory's jobs (`aifactory run`, `ingest`, each resident
cycle, replay, deletes, and each stage a Dagster step drives): an OpenLineage START
when a run begins, then COMPLETE with its inputs (source folders, topics, lake tables)
and outputs (lake tables, index collections) with row counts, schema, column-lineage
and residency facets, or FAIL with the error. A run another job drove (a Dagster
step) carries a parent facet naming that job and run. The file is
`<home>/lineage/openlineage.jsonl`; OPENLINEAGE_URL sends them to Marquez instead.

Every front door names datasets through this module (governance/lineage_names.py), so
one lake table, topic or collection is one node of a lineage graph.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.lineage_names import file_dataset, kafka_namespace, qdrant_namespace, url_dataset
from governance.openlineage import ColumnFrom, DatasetRef, LineageEmitter, ParentRef
from ingest.lake import TableSpec
from ingest.tables import DEAD_LETTERS, RAW
from transforms.tables import CHUNKS
from vectorstore.index import collection_name
from vectorstore.placement import parse_map

if TYPE_CHECKING:
    from pipeline.factory import Factory
    from pipeline.runner import RunReport

log = logging.getLogger(__name__)

# What each job reads and writes, by kind; a job not named here is taken to do all of it.
EVERYTHING = ({"sources", "raw_topic", "chunks_topic", "dead_letter_topic"}, {"raw", "chunks", "dead_letters", "index"})
JOBS: dict[str, tuple[set[str], set[str]]] = {
    "aifactory.ingest": ({"sources", "raw_topic"}, {"raw", "dead_letters"}),
    "aifactory.transform": ({"raw_topic", "chunks_topic", "raw"}, {"chunks", "dead_letters"}),
    "aifactory.project": ({"chunks"}, {"index"}),
}
TABLES = {"raw": RAW, "chunks": CHUNKS, "dead_letters": DEAD_LETTERS}
# Columns of the chunks table made from the raw table's (the rest are the chunker's own).
CHUNK_COLUMNS: dict[str, tuple[str, str, str]] = {
    **{c: (c, "IDENTITY", "") for c in ("event_id", "op", "tenant", "jurisdiction", "region", "document_id",
                                         "version", "title", "source_uri", "event_time")},
    "text": ("text", "TRANSFORMATION", "split into chunks of model tokens"),
    "content_hash": ("text", "TRANSFORMATION", "SHA-256 of the chunk's text"),
    "pii": ("text", "TRANSFORMATION", "PII found in the chunk"),
    "quarantined": ("text", "TRANSFORMATION", "prompt-injection screening"),
    "raw_topic": ("log_topic", "IDENTITY", ""), "raw_partition": ("log_partition", "IDENTITY", ""),
    "raw_offset": ("log_offset", "IDENTITY", ""), "raw_epoch": ("log_epoch", "IDENTITY", ""),
}
# Columns of the raw table carried from the raw topic's events as they are (the rest say
# where the event sat in the log and when it landed).
RAW_COLUMNS: dict[str, tuple[str, str, str]] = {
    f.name: (f.name, "IDENTITY", "") for f in RAW.schema
    if f.name not in ("log_epoch", "log_topic", "log_partition", "log_offset", "landed_at")}
# Fields of each point (its vector and payload) made from the chunks table's columns.
POINT_FIELDS: dict[str, tuple[str, str, str]] = {
    "vector": ("text", "TRANSFORMATION", "embedded by the active model"),
    **{c: (c, "IDENTITY", "") for c in ("tenant", "jurisdiction", "region", "document_id", "version", "chunk_no",
                                         "chunk_id", "event_id", "title", "text", "source_uri", "quarantined")},
    "topic": ("raw_topic", "IDENTITY", ""), "partition": ("raw_partition", "IDENTITY", ""),
    "offset": ("raw_offset", "IDENTITY", ""), "log_epoch": ("raw_epoch", "IDENTITY", ""),
}


def emitter(factory: Factory) -> LineageEmitter:
    return LineageEmitter(factory.settings.home / "lineage" / "openlineage.jsonl", url=factory.settings.openlineage_url)


@contextlib.contextmanager
def job_run(factory: Factory, job: str, report: RunReport, *, parent: ParentRef | None = None) -> Iterator[None]:
    """START now; COMPLETE with the report's datasets when the block ends, FAIL if
    it raises. Lineage that cannot be sent is logged, never fails the run."""
    out = emitter(factory)
    _quietly(lambda: out.start(job, report.run_id, parent=parent))
    try:
        yield
    except BaseException as exc:
        error = exc
        _quietly(lambda: out.fail(job, report.run_id, error, parent=parent))
        raise
    complete(factory, job, report, out, parent=parent)


def complete(factory: Factory, job: str, report: RunReport, out: LineageEmitter | None = None, *,
             parent: ParentRef | None = None) -> None:
    out = out or emitter(factory)
    _quietly(lambda: out.complete(job, report.run_id, inputs=inputs(factory, report, job),
                                  outputs=outputs(factory, report, job), summary=report.summary(), parent=parent))


def topic(factory: Factory, name: str) -> DatasetRef:
    return DatasetRef(kafka_namespace(factory.settings.kafka.bootstrap_servers, factory.settings.home), name)


def topics(factory: Factory) -> list[DatasetRef]:
    kafka = factory.settings.kafka
    return [topic(factory, t) for t in (kafka.raw_topic, kafka.chunks_topic, kafka.dead_letter_topic)]


def table(factory: Factory, spec: TableSpec, of_region: str = "", **more: Any) -> DatasetRef:
    """The lake table `spec` in the place that holds `of_region`'s files (the default place
    when the region has none of its own)."""
    store = factory.lake.store
    place = store.regions.get(of_region, store.default)
    namespace, name = url_dataset(f"{place.url.rstrip('/')}/{spec.name}")
    return DatasetRef(namespace, name, _fields(spec), **more)


def collection(factory: Factory, region: str, model_id: str, **more: Any) -> DatasetRef:
    """The index collection of `region` and the model: on its Qdrant server, or the Edge shard's folder."""
    s = factory.settings
    name = collection_name(region, model_id)
    url = parse_map(s.qdrant_region_urls, "QDRANT_REGION_URLS").get(region) if s.qdrant_region_urls else None
    if url or s.qdrant_url:
        return DatasetRef(qdrant_namespace(url or s.qdrant_url), name, region=region, **more)
    namespace, path = file_dataset(s.index_root / name)
    return DatasetRef(namespace, path, region=region, **more)


def inputs(factory: Factory, report: RunReport, job: str = "") -> list[DatasetRef]:
    reads, _ = JOBS.get(job, EVERYTHING)
    kafka = factory.settings.kafka
    roots = sorted({e.source_root for r in report.ingest for e in r.published}) if "sources" in reads else []
    out = [DatasetRef(*url_dataset(root) if "://" in root else file_dataset(root)) for root in roots]
    named = {"raw_topic": kafka.raw_topic, "chunks_topic": kafka.chunks_topic,
             "dead_letter_topic": kafka.dead_letter_topic}
    out += [topic(factory, name) for kind, name in named.items() if kind in reads]
    regions = _regions(report) or sorted(report.index.by_region if report.index else []) or [""]
    return out + _unique(table(factory, TABLES[k], r) for k in sorted(reads & TABLES.keys()) for r in regions)


def outputs(factory: Factory, report: RunReport, job: str = "") -> list[DatasetRef]:
    """Each lake table and index collection the job writes, with this run's rows, the
    regions and jurisdictions of what it wrote there, and where its columns came from."""
    _, writes = JOBS.get(job, EVERYTHING)
    where = sorted({(e.region, e.jurisdiction) for r in report.ingest for e in r.published})
    regions = sorted({r for r, _ in where})
    juris = sorted({j for _, j in where})
    rows = {"raw": report.raw_landed, "chunks": report.chunks_landed, "dead_letters": report.dead_letters_landed}
    out: list[DatasetRef] = []
    for kind in ("raw", "chunks", "dead_letters"):
        if kind not in writes:
            continue
        places: dict[tuple[str, str], str] = {}  # (namespace, name) -> a region whose files it holds
        for region in regions or [""]:
            ref = table(factory, TABLES[kind], region)
            places.setdefault((ref.namespace, ref.name), region)
        for region in places.values():
            # Chunks are made from the raw table in the same place (a region's files stay in its place).
            columns = _columns(CHUNK_COLUMNS, table(factory, RAW, region)) if kind == "chunks" else \
                _columns(RAW_COLUMNS, topic(factory, factory.settings.kafka.raw_topic)) if kind == "raw" else {}
            out.append(table(factory, TABLES[kind], region, rows=rows[kind] if len(places) == 1 else None,
                             region=",".join(regions), jurisdictions=juris, columns=columns))
    if "index" in writes and report.index is not None:
        model_id = (factory.active_model() or {}).get("id", "")
        out += [collection(factory, region, model_id, rows=points,
                           jurisdictions=sorted({j for r, j in where if r == region}),
                           columns=_columns(POINT_FIELDS, table(factory, CHUNKS, region)))
                for region, points in sorted(report.index.by_region.items())]
    return out


def _columns(spec: dict[str, tuple[str, str, str]], source: DatasetRef) -> dict[str, ColumnFrom]:
    return {out: ColumnFrom([(source.namespace, source.name, col)], subtype, how)
            for out, (col, subtype, how) in spec.items()}


def _regions(report: RunReport) -> list[str]:
    return sorted({e.region for r in report.ingest for e in r.published})


def _unique(refs: Iterable[DatasetRef]) -> list[DatasetRef]:
    seen: dict[tuple[str, str], DatasetRef] = {}
    for ref in refs:
        seen.setdefault((ref.namespace, ref.name), ref)
    return list(seen.values())


def _fields(spec: TableSpec) -> list[tuple[str, str]]:
    return [(f.name, str(f.type)) for f in spec.schema]


def _quietly(send: Callable[[], None]) -> None:
    try:
        send()
    except (OSError, ValueError, TypeError) as exc:  # lineage must not take the data plane down
        log.warning("cannot emit OpenLineage event: %s", exc)


@dataclass(frozen=True)
class CompletedRun:
    """A COMPLETE event of the lineage file, as a watcher reads it back."""

    job: str  # "aifactory.run", "aifactory.ingest", "aifactory.replay", "aifactory.follow", ...
    run_id: str  # the factory's run id (the usage ledger's and lineage rows'), else OpenLineage's
    completed_at: str  # the event's time, ISO 8601
    summary: dict[str, Any] = field(default_factory=dict)  # RunReport.summary() for the runner's jobs
    rows: dict[str, int] = field(default_factory=dict)  # output dataset name -> rows the run wrote
    parent_namespace: str = ""  # the job namespace of the run that drove it ("dagster" for a Dagster step)


def lineage_file(home: Path) -> Path:
    """Where the run-level events of a data directory go when OPENLINEAGE_URL is empty."""
    return home / "lineage" / "openlineage.jsonl"


def completed_runs(home: Path, *, offset: int = 0, limit: int = 100) -> tuple[list[CompletedRun], int]:
    """At most `limit` COMPLETE events written to the lineage file after byte `offset`,
    and the offset to read from next time: after the last whole line read (a line still
    being written is left for then). It only reads the file: no writer lock, no index.
    No file yet: nothing, offset 0. A file shorter than `offset` was replaced: it is
    read from its start. A line that is not an OpenLineage event is skipped."""
    path = lineage_file(home)
    try:
        with path.open("rb") as fh:
            if fh.seek(0, 2) < offset:
                offset = 0
            fh.seek(offset)
            runs: list[CompletedRun] = []
            for line in fh:
                if not line.endswith(b"\n") or len(runs) >= limit:
                    break
                offset += len(line)
                run = _completed(line)
                if run is not None:
                    runs.append(run)
    except FileNotFoundError:
        return [], 0
    return runs, offset


def _completed(line: bytes) -> CompletedRun | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("eventType") != "COMPLETE":
        return None
    run = event.get("run") or {}
    ours = (run.get("facets") or {}).get("aifactory") or {}
    rows = {o.get("name", ""): stats["rowCount"] for o in event.get("outputs") or []
            if isinstance(stats := (o.get("outputFacets") or {}).get("outputStatistics"), dict)
            and isinstance(stats.get("rowCount"), int)}
    parent = ((run.get("facets") or {}).get("parent") or {}).get("job") or {}
    return CompletedRun(job=(event.get("job") or {}).get("name", ""), run_id=ours.get("run_id") or run.get("runId", ""),
                        completed_at=event.get("eventTime", ""), summary=ours.get("summary") or {}, rows=rows,
                        parent_namespace=parent.get("namespace", "") if isinstance(parent, dict) else "")
