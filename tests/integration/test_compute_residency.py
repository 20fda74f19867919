"""Residency of compute: a worker carries the region it computes in, and embeds only
chunks whose jurisdiction allows that region. An EU document is never embedded by a
us-east worker: it is left for a worker of an allowed region, audited and reported,
and the residency report shows where each tenant's chunks were processed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from governance.errors import ResidencyError
from ingest.sources import Source
from ingest.tables import RAW
from pipeline import runner
from pipeline.residency_report import report
from tests.conftest import MakeFactory
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

EU_FACT = "The Munich depot keeps its forklift keys in cabinet 7."
US_FACT = "The Austin depot keeps its forklift keys in drawer 3."


class Watched:
    """The session's embedder, recording every text it is asked to embed."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.texts: list[str] = []

    def embed(self, texts: list[str], *args: Any, **kwargs: Any) -> Any:
        self.texts += texts
        return self._embedder.embed(texts, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)


def sources(tmp_path: Path) -> list[Source]:
    made = []
    for tenant, jurisdiction, fact in (("depot-eu", "EU", EU_FACT), ("depot-us", "US", US_FACT)):
        folder = tmp_path / tenant
        folder.mkdir()
        (folder / "keys.md").write_text(f"# Keys\n\n{fact}\n")
        made.append(Source(folder, tenant, jurisdiction))
    return made


def test_an_eu_event_is_never_embedded_by_a_us_east_worker(tmp_path: Path, make_factory: MakeFactory,
                                                           embedder: Embedder) -> None:
    home = tmp_path / "home"
    us_worker = make_factory(home, compute_region="us-east")
    watched = Watched(embedder)
    us_worker.__dict__["embedder"] = watched
    runner.run(us_worker, sources(tmp_path))

    assert watched.texts and not any("Munich" in t for t in watched.texts), "an EU text reached the us-east worker"
    assert us_worker.index.count("us-east", tenant="depot-us") >= 1
    assert "eu-central" not in us_worker.index.regions() or not us_worker.index.count("eu-central")
    embedded = [e for e in us_worker.ledger.entries() if e.event == "embedding"]
    assert {(e.tenant, e.region, e.processed_in) for e in embedded} == {("depot-us", "us-east", "us-east")}
    [refusal] = [e for e in us_worker.audit.entries() if e["action"] == "residency.compute_refused"]
    assert (refusal["target"], refusal["details"]["jurisdiction"], refusal["details"]["compute_region"]) == \
        ("depot-eu", "EU", "us-east")
    assert us_worker.signals.totals()[("residency", "depot-eu")] == refusal["details"]["chunks"]
    us_worker.sync_index(run_id="again")  # met again: not audited twice by the same process
    assert len([e for e in us_worker.audit.entries() if e["action"] == "residency.compute_refused"]) == 1
    us_worker.close()

    eu_worker = make_factory(home, compute_region="eu-central")
    eu_worker.sync_index(run_id="eu-pass")
    assert eu_worker.index.count("eu-central", tenant="depot-eu") >= 1
    data = report(eu_worker)
    processed = {(t, r["sink"], r["region"], r["compliant"]) for t, rows in data["tenants"].items() for r in rows
                 if r.get("processed")}
    assert processed == {("depot-eu", "embedded (stored in eu-central)", "eu-central", True),
                         ("depot-us", "embedded (stored in us-east)", "us-east", True)}
    assert not data["violations_found"] and len(data["compute_refused"]) == 1
    eu_worker.close()


def test_a_compute_region_outside_the_policy_stops_a_run_before_it_publishes(tmp_path: Path,
                                                                             make_factory: MakeFactory) -> None:
    factory = make_factory(tmp_path / "home", compute_region="mars-1")
    with pytest.raises(ResidencyError, match="AIFACTORY_COMPUTE_REGION 'mars-1' is not a region"):
        runner.run(factory, sources(tmp_path))
    assert not factory.lake.files(RAW), "documents were published before the setting was checked"
    factory.close()
