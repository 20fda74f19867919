from __future__ import annotations

import pytest

from governance.contracts import DocumentEvent, LogPosition, chunk_id, point_id
from governance.errors import ContractError, ResidencyError
from governance.residency import DEFAULT_POLICY, load_policy


def event(**kw: object) -> DocumentEvent:
    fields: dict[str, object] = {"op": "upsert", "tenant": "acme", "document_id": "acme:a.md", "version": 1,
                                 "text": "hello", "jurisdiction": "EU", "region": "eu-central",
                                 "source_uri": "file:///a.md", "source_root": "file:///"}
    fields.update(kw)
    return DocumentEvent.new(**fields)  # type: ignore[arg-type]


def test_ids_are_derived_not_random() -> None:
    assert event().event_id == event().event_id
    assert event().event_id != event(version=2).event_id
    assert chunk_id("d", "hash1") == chunk_id("d", "hash1") != chunk_id("d", "hash2")
    assert point_id("c", "m1") != point_id("c", "m2")


def test_event_round_trips_through_json() -> None:
    e = event(origin=LogPosition(epoch="x", topic="t", partition=1, offset=7))
    assert DocumentEvent.from_json(e.to_json()) == e


def test_a_bad_event_names_the_contract_and_the_field() -> None:
    with pytest.raises(ContractError, match=r"not a valid DocumentEvent.*tenant"):
        DocumentEvent.from_json(event().to_json().replace(b'"tenant":"acme",', b""))


def test_residency_policy_maps_and_refuses() -> None:
    assert DEFAULT_POLICY.home_region("EU") == "eu-central"
    DEFAULT_POLICY.check("US", "us-east")
    with pytest.raises(ResidencyError, match="may not be stored in region 'us-east'"):
        DEFAULT_POLICY.check("EU", "us-east")
    with pytest.raises(ResidencyError, match="'CH' is not in the residency policy"):
        DEFAULT_POLICY.home_region("CH")


def test_policy_file_is_loaded_and_a_broken_one_explained(tmp_path: object) -> None:
    from pathlib import Path

    good = Path(str(tmp_path)) / "p.yaml"
    good.write_text("jurisdictions:\n  CH: {home: ch-north, allowed: [ch-north, eu-central]}\n")
    assert load_policy(good).home_region("CH") == "ch-north"
    bad = Path(str(tmp_path)) / "bad.yaml"
    bad.write_text("nothing: here\n")
    with pytest.raises(ResidencyError, match="jurisdictions"):
        load_policy(bad)
