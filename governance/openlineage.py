"""Run-level lineage as OpenLineage events (the `openlineage-python` client): a START
and a COMPLETE (or FAIL) per job run, with input and output datasets and facets for
schema, row counts, column lineage and residency, and a parent facet when another
job (a Dagster run) drove the run. Written to a file under the data directory by
default; sent over HTTP to a Marquez-compatible endpoint when a URL is configured.

Dataset names follow the naming spec (lineage_names.py). The factory's own facets
(`residency`, `aifactory`, `aifactory_trace`) are described by the JSON schemas in
governance/facets/, which their `_schemaURL` points at.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    column_lineage_dataset,
    error_message_run,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
    set_producer,
)
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import HttpConfig, HttpTransport

from governance.contracts import utcnow

PRODUCER = "https://github.com/aifactory/data-plane"
NAMESPACE = "aifactory"
FACET_SCHEMAS = "https://raw.githubusercontent.com/aifactory/data-plane/main/governance/facets/"
FACETS_DIR = Path(__file__).with_name("facets")  # the JSON schemas FACET_SCHEMAS serves
set_producer(PRODUCER)  # every facet's `_producer`: this process makes only the factory's events


def facet_schema(name: str) -> str:
    return f"{FACET_SCHEMAS}{name}.json#/$defs/{name}"


@attr.define
class ResidencyDatasetFacet(DatasetFacet):
    """Where a dataset lives and whose data it may hold."""

    region: str = attr.field()
    jurisdictions: list[str] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return facet_schema("ResidencyDatasetFacet")


@attr.define
class AifactoryRunFacet(RunFacet):
    """The factory's own run id, which the usage ledger and lineage rows carry."""

    run_id: str = attr.field()
    summary: dict[str, Any] = attr.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return facet_schema("AifactoryRunFacet")


@attr.define
class TraceDatasetFacet(DatasetFacet):
    """Record-level lineage of an index collection: which points came from which raw-topic
    log position (topic, partition, offset), so a lineage server can answer "which
    vectors came from this Kafka offset". At most `limit` positions; `truncated` says
    more exist (`aifactory lineage trace` answers for any of them)."""

    points: int = attr.field()
    positions: list[dict[str, Any]] = attr.field(factory=list)  # {topic, partition, offset, epoch, point_ids}
    truncated: bool = attr.field(default=False)

    @staticmethod
    def _get_schema() -> str:
        return facet_schema("TraceDatasetFacet")


@dataclass(frozen=True)
class ColumnFrom:
    """Where an output column comes from: (namespace, name, field) of input columns."""

    inputs: list[tuple[str, str, str]]
    subtype: str = "IDENTITY"  # IDENTITY | TRANSFORMATION
    description: str = ""

    def fields(self) -> column_lineage_dataset.Fields:
        how = column_lineage_dataset.Transformation(type="DIRECT", subtype=self.subtype,
                                                    description=self.description or None)
        return column_lineage_dataset.Fields(inputFields=[
            column_lineage_dataset.InputField(namespace=ns, name=name, field=f, transformations=[how])
            for ns, name, f in self.inputs])


@dataclass(frozen=True)
class ParentRef:
    """The job run that drove this one (a Dagster step), and the run at the root of it
    (the Dagster run); run ids are UUIDs."""

    namespace: str
    job: str
    run_id: str
    root_job: str = ""
    root_run_id: str = ""

    def facet(self) -> parent_run.ParentRunFacet:
        return parent_run.ParentRunFacet(
            run=parent_run.Run(runId=self.run_id), job=parent_run.Job(namespace=self.namespace, name=self.job),
            root=parent_run.Root(run=parent_run.RootRun(runId=self.root_run_id or self.run_id),
                                 job=parent_run.RootJob(namespace=self.namespace, name=self.root_job or self.job)))


@dataclass(frozen=True)
class DatasetRef:
    """A dataset of a run: `fields` as (name, type) for the schema facet."""

    namespace: str
    name: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    rows: int | None = None
    region: str = ""
    jurisdictions: list[str] = field(default_factory=list)
    columns: dict[str, ColumnFrom] = field(default_factory=dict)  # column lineage of an output
    trace: TraceDatasetFacet | None = None

    def facets(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.fields:
            out["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in self.fields])
        if self.region:
            out["residency"] = ResidencyDatasetFacet(region=self.region, jurisdictions=self.jurisdictions)
        if self.columns:
            out["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
                fields={name: c.fields() for name, c in self.columns.items()})
        if self.trace is not None:
            out["aifactory_trace"] = self.trace
        return out


class LineageEmitter:
    def __init__(self, path: Path, *, url: str = "") -> None:
        self.path = path
        if url:
            transport: Any = HttpTransport(HttpConfig(url=url))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            transport = FileTransport(FileConfig(log_file_path=str(path), append=True))
        self.client = OpenLineageClient(transport=transport)

    @staticmethod
    def run_uuid(run_id: str, job: str = "") -> str:
        """The OpenLineage run id of the factory's run `run_id` of `job`: stable, so START
        and COMPLETE agree; per job, since Dagster's steps share their run's id."""
        key = f"aifactory-run:{run_id}" if not job or job == "aifactory.run" else f"aifactory-run:{job}:{run_id}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, key))

    def _emit(self, state: RunState, job: str, run_id: str, *, inputs: list[DatasetRef] | None = None,
              outputs: list[DatasetRef] | None = None, run_facets: dict[str, Any] | None = None,
              parent: ParentRef | None = None) -> None:
        facets = dict(run_facets or {})
        if parent is not None:
            facets["parent"] = parent.facet()
        event = RunEvent(
            eventType=state, eventTime=utcnow().isoformat(), producer=PRODUCER,
            run=Run(runId=self.run_uuid(run_id, job), facets=facets),
            job=Job(namespace=NAMESPACE, name=job),
            inputs=[InputDataset(namespace=d.namespace, name=d.name, facets=d.facets()) for d in inputs or []],
            outputs=[OutputDataset(namespace=d.namespace, name=d.name, facets=d.facets(), outputFacets={
                "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=d.rows)} if d.rows is not None else {}) for d in outputs or []])
        self.client.emit(event)

    def start(self, job: str, run_id: str, *, parent: ParentRef | None = None) -> None:
        self._emit(RunState.START, job, run_id, run_facets={"aifactory": AifactoryRunFacet(run_id=run_id)},
                   parent=parent)

    def complete(self, job: str, run_id: str, *, inputs: list[DatasetRef], outputs: list[DatasetRef],
                 summary: dict[str, Any], parent: ParentRef | None = None) -> None:
        self._emit(RunState.COMPLETE, job, run_id, inputs=inputs, outputs=outputs,
                   run_facets={"aifactory": AifactoryRunFacet(run_id=run_id, summary=summary)}, parent=parent)

    def fail(self, job: str, run_id: str, error: BaseException, *, parent: ParentRef | None = None) -> None:
        self._emit(RunState.FAIL, job, run_id, run_facets={
            "aifactory": AifactoryRunFacet(run_id=run_id),
            "errorMessage": error_message_run.ErrorMessageRunFacet(message=str(error), programmingLanguage="python")},
            parent=parent)
