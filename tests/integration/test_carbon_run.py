"""A carbon-intensity series that cannot be read stops a run before anything is published
(it was found only at the index step, after the documents had landed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.carbon import CarbonError
from ingest.sources import Source
from pipeline import runner
from tests.conftest import MakeFactory

pytestmark = pytest.mark.integration


def test_a_bad_series_fails_the_run_before_it_publishes(tmp_path: Path, make_factory: MakeFactory) -> None:
    series = tmp_path / "intensity.csv"
    series.write_text("zone,when,value\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.md").write_text("# Note\n\nThe canteen serves cardamom buns.\n")
    factory = make_factory(tmp_path / "home", carbon_intensity=str(series))
    with pytest.raises(CarbonError, match="needs the columns region,start,gco2e_per_kwh"):
        runner.run(factory, [Source(docs, "acme", "EU")])
    assert not list((tmp_path / "home" / "lake").rglob("*.parquet"))
    factory.close()
