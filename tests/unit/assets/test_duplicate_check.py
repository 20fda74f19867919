"""The duplicate_ratio check fails on a row key stored twice and tells what to run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.checks import evaluate_duplicates
from pipeline.factory import Factory
from pipeline.repair import repair
from pipeline.settings import FactorySettings
from tests.unit.pipeline.test_repair import chunk
from transforms.tables import CHUNKS


def test_a_key_stored_twice_fails_naming_aifactory_repair(tmp_path: Path) -> None:
    factory = Factory(FactorySettings(home=tmp_path / "home"))
    factory.lake.write(CHUNKS, [chunk("acme", n) for n in range(2)])
    factory.lake.write(CHUNKS, [chunk("acme", n) for n in range(3)])
    result = evaluate_duplicates(factory)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert "aifactory repair" in (result.description or "")
    repair(factory)
    assert evaluate_duplicates(factory).passed
