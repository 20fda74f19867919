"""Residency is enforced at every write and reported: an EU record bound for a US
sink is refused, quarantined in an allowed region, audited, and shows in the report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from governance.contracts import DocumentEvent, LogPosition
from governance.errors import ResidencyError
from ingest.tables import DEAD_LETTERS, RAW, raw_row
from pipeline import runner
from pipeline.residency_report import report
from tests.conftest import MakeFactory
from tests.integration.conftest import ApiWorld
from transforms.tables import CHUNKS

pytestmark = pytest.mark.integration


def test_the_report_places_each_tenant_in_its_allowed_regions(api_world: ApiWorld) -> None:
    data = report(api_world.factory)
    assert not data["violations_found"]
    by_tenant = {t: {(r["sink"].split()[0], r["region"]) for r in rows if not r.get("processed")}
                 for t, rows in data["tenants"].items()}
    # Embedded by a process without a compute region: where is not known, and the report says so.
    assert {(r["region"], r["compliant"]) for rows in data["tenants"].values() for r in rows
            if r.get("processed")} == {("unrecorded", None)}
    assert {("raw", "eu-central"), ("chunk", "eu-central"), ("index", "eu-central")} <= by_tenant["helio-eu"]
    assert all(region == "us-east" for _, region in by_tenant["helio-us"])
    assert {region for _, region in by_tenant["acme"]} == {"eu-central", "us-east"}
    assert all(r["compliant"] for rows in data["tenants"].values() for r in rows
               if r["jurisdiction"] and not r.get("processed"))


def test_an_eu_record_bound_for_a_us_sink_is_refused_and_audited(tmp_path: Path, make_factory: MakeFactory) -> None:
    factory = make_factory(tmp_path / "home")
    # Another producer on the raw topic claims region us-east for EU data.
    rogue = DocumentEvent.new(op="upsert", tenant="acme", document_id="acme:payroll.txt", version=1,
                              text="Payroll for the Munich office.", jurisdiction="EU", region="us-east",
                              source_uri="file:///payroll.txt", source_root="file:///")
    with pytest.raises(ResidencyError, match="may not be stored in region 'us-east'"):
        factory.lake.write(RAW, [raw_row(rogue, LogPosition(epoch="e", topic="t", partition=0, offset=0))])
    assert not factory.lake.files(RAW)

    runner.run(factory, [], requests=[rogue])

    con = factory.lake.connect(RAW, CHUNKS, DEAD_LETTERS)
    assert con.execute("SELECT count(*) FROM raw").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM chunks").fetchone() == (0,)
    letters = con.execute("SELECT stage, region, reason FROM dead_letters WHERE event_id = ?",
                          [rogue.event_id]).fetchall()
    con.close()
    assert letters and all(region == "eu-central" for _, region, _ in letters)
    assert any("may not be stored in region 'us-east'" in reason for _, _, reason in letters)
    refused = [e for e in factory.audit.entries() if e["action"] == "residency.refused"]
    assert {e["details"]["sink"] for e in refused} >= {"lake/raw"}
    assert factory.audit.verify().ok
    data = report(factory)
    assert data["violations_refused"] and not data["violations_found"]
    assert datetime.fromisoformat(refused[0]["at"]) <= datetime.now(UTC)
