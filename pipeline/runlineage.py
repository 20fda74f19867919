"""Run-level lineage for the factory's own jobs (`aifactory run`, each resident cycle,
replay, deletes): an OpenLineage START when a run begins, then COMPLETE with its
inputs (source folders, topics) and outputs (lake tables, index collections) with
row counts, schema and residency facets, or FAIL with the error. The file is
`<home>/lineage/openlineage.jsonl`; OPENLINEAGE_URL sends them to Marquez instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.openlineage import DatasetRef, LineageEmitter
from ingest.lake import TableSpec
from ingest.tables import DEAD_LETTERS, RAW
from transforms.tables import CHUNKS

if TYPE_CHECKING:
    from pipeline.factory import Factory
    from pipeline.runner import RunReport

log = logging.getLogger(__name__)


def emitter(factory: Factory) -> LineageEmitter:
    return LineageEmitter(factory.settings.home / "lineage" / "openlineage.jsonl", url=factory.settings.openlineage_url)


@contextlib.contextmanager
def job_run(factory: Factory, job: str, report: RunReport) -> Iterator[None]:
    """START now; COMPLETE with the report's datasets when the block ends, FAIL if
    it raises. Lineage that cannot be sent is logged, never fails the run."""
    out = emitter(factory)
    _quietly(lambda: out.start(job, report.run_id))
    try:
        yield
    except BaseException as exc:
        error = exc
        _quietly(lambda: out.fail(job, report.run_id, error))
        raise
    complete(factory, job, report, out)


def complete(factory: Factory, job: str, report: RunReport, out: LineageEmitter | None = None) -> None:
    out = out or emitter(factory)
    _quietly(lambda: out.complete(job, report.run_id, inputs=inputs(factory, report),
                                  outputs=outputs(factory, report), summary=report.summary()))


def inputs(factory: Factory, report: RunReport) -> list[DatasetRef]:
    kafka = factory.settings.kafka
    roots = sorted({e.source_root for r in report.ingest for e in r.published})
    return [DatasetRef("file", root) for root in roots] + \
        [DatasetRef(f"kafka://{kafka.bootstrap_servers or 'embedded'}", t)
         for t in (kafka.raw_topic, kafka.chunks_topic, kafka.dead_letter_topic)]


def outputs(factory: Factory, report: RunReport) -> list[DatasetRef]:
    """Each lake table and index collection, with this run's rows and the regions
    and jurisdictions of what it wrote there."""
    lake_ns = factory.lake.location
    events = [e for r in report.ingest for e in r.published]
    where = sorted({(e.region, e.jurisdiction) for e in events})
    regions = sorted({r for r, _ in where})
    juris = sorted({j for _, j in where})
    out = [DatasetRef(lake_ns, spec.name, _fields(spec), rows, region=",".join(regions), jurisdictions=juris)
           for spec, rows in ((RAW, report.raw_landed), (CHUNKS, report.chunks_landed),
                              (DEAD_LETTERS, report.dead_letters_landed))]
    if report.index is not None:
        model = factory.active_model() or {}
        index_ns = factory.settings.qdrant_url or factory.settings.qdrant_region_urls or f"file://{factory.settings.index_root}"
        out += [DatasetRef(index_ns, f"chunks__{region}__{model.get('id', '')}", rows=points, region=region,
                           jurisdictions=sorted({j for r, j in where if r == region}))
                for region, points in sorted(report.index.by_region.items())]
    return out


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

    job: str  # "aifactory.run", "aifactory.replay", "aifactory.follow", or a front door's own
    run_id: str  # the factory's run id (the usage ledger's and lineage rows'), else OpenLineage's
    completed_at: str  # the event's time, ISO 8601
    summary: dict[str, Any] = field(default_factory=dict)  # RunReport.summary() for the runner's jobs
    rows: dict[str, int] = field(default_factory=dict)  # output dataset name -> rows the run wrote


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
    return CompletedRun(job=(event.get("job") or {}).get("name", ""), run_id=ours.get("run_id") or run.get("runId", ""),
                        completed_at=event.get("eventTime", ""), summary=ours.get("summary") or {}, rows=rows)
