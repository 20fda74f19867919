"""Run-level lineage as OpenLineage events (the `openlineage-python` client): a START
and a COMPLETE (or FAIL) per job run, with input and output datasets and facets for
schema, row counts and residency. Written to a file under the data directory by
default; sent over HTTP to a Marquez-compatible endpoint when a URL is configured.
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
    error_message_run,
    output_statistics_output_dataset,
    schema_dataset,
)
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import HttpConfig, HttpTransport

from governance.contracts import utcnow

PRODUCER = "https://github.com/aifactory/data-plane"
NAMESPACE = "aifactory"


@attr.define
class ResidencyDatasetFacet(DatasetFacet):
    """Where a dataset lives and whose data it may hold."""

    region: str = attr.field()
    jurisdictions: list[str] = attr.field(factory=list)


@attr.define
class AifactoryRunFacet(RunFacet):
    """The factory's own run id, which the usage ledger and lineage rows carry."""

    run_id: str = attr.field()
    summary: dict[str, Any] = attr.field(factory=dict)


@dataclass(frozen=True)
class DatasetRef:
    """A dataset of a run: `fields` as (name, type) for the schema facet."""

    namespace: str
    name: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    rows: int | None = None
    region: str = ""
    jurisdictions: list[str] = field(default_factory=list)

    def facets(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.fields:
            out["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in self.fields])
        if self.region:
            out["residency"] = ResidencyDatasetFacet(region=self.region, jurisdictions=self.jurisdictions)
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
    def run_uuid(run_id: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aifactory-run:{run_id}"))

    def _emit(self, state: RunState, job: str, run_id: str, *, inputs: list[DatasetRef] | None = None,
              outputs: list[DatasetRef] | None = None, run_facets: dict[str, Any] | None = None) -> None:
        event = RunEvent(
            eventType=state, eventTime=utcnow().isoformat(), producer=PRODUCER,
            run=Run(runId=self.run_uuid(run_id), facets=run_facets or {}),
            job=Job(namespace=NAMESPACE, name=job),
            inputs=[InputDataset(namespace=d.namespace, name=d.name, facets=d.facets()) for d in inputs or []],
            outputs=[OutputDataset(namespace=d.namespace, name=d.name, facets=d.facets(), outputFacets={
                "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=d.rows)} if d.rows is not None else {}) for d in outputs or []])
        self.client.emit(event)

    def start(self, job: str, run_id: str) -> None:
        self._emit(RunState.START, job, run_id, run_facets={"aifactory": AifactoryRunFacet(run_id=run_id)})

    def complete(self, job: str, run_id: str, *, inputs: list[DatasetRef], outputs: list[DatasetRef],
                 summary: dict[str, Any]) -> None:
        self._emit(RunState.COMPLETE, job, run_id, inputs=inputs, outputs=outputs,
                   run_facets={"aifactory": AifactoryRunFacet(run_id=run_id, summary=summary)})

    def fail(self, job: str, run_id: str, error: BaseException) -> None:
        self._emit(RunState.FAIL, job, run_id, run_facets={
            "aifactory": AifactoryRunFacet(run_id=run_id),
            "errorMessage": error_message_run.ErrorMessageRunFacet(message=str(error), programmingLanguage="python")})
