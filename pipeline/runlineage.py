"""Run-level lineage for the factory's own jobs (`aifactory run`, each resident cycle,
replay, deletes): an OpenLineage START when a run begins, then COMPLETE with its
inputs (source folders, topics) and outputs (lake tables, index collections) with
row counts, schema and residency facets, or FAIL with the error. The file is
`<home>/lineage/openlineage.jsonl`; OPENLINEAGE_URL sends them to Marquez instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

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
    lake_ns = f"file://{factory.lake.root}"
    events = [e for r in report.ingest for e in r.published]
    where = sorted({(e.region, e.jurisdiction) for e in events})
    regions = sorted({r for r, _ in where})
    juris = sorted({j for _, j in where})
    out = [DatasetRef(lake_ns, spec.name, _fields(spec), rows, region=",".join(regions), jurisdictions=juris)
           for spec, rows in ((RAW, report.raw_landed), (CHUNKS, report.chunks_landed),
                              (DEAD_LETTERS, report.dead_letters_landed))]
    if report.index is not None:
        model = factory.active_model() or {}
        index_ns = factory.settings.qdrant_url or f"file://{factory.settings.index_root}"
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
