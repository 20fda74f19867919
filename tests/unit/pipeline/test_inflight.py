"""A run asks the lake for events without an outcome only when a publisher may have left
some (pipeline/inflight.py): the query reads the whole chunk table, and a run that
changes one document should not pay for it when nothing was left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from governance.contracts import DocumentEvent, LogPosition
from ingest.tables import RAW, raw_row
from pipeline import inflight
from pipeline.factory import Factory
from pipeline.scan import resumable
from pipeline.settings import FactorySettings


@pytest.fixture
def factory(tmp_path: Path) -> Factory:
    """A home whose raw lake holds two events that never got their chunks."""
    f = Factory(FactorySettings(home=tmp_path / "home"))
    events = [DocumentEvent.new(op="upsert", tenant="acme", document_id=f"acme:{n}.md", version=1, text=f"{n} text",
                                jurisdiction="EU", region="eu-central", source_uri=f"file:///src/{n}.md",
                                source_root="file:///src") for n in ("a", "b")]
    f.lake.write(RAW, [raw_row(e, LogPosition(epoch="e", topic="raw", partition=0, offset=i))
                       for i, e in enumerate(events)])
    return f


def test_the_lake_is_asked_when_a_publisher_died_and_not_while_none_did(factory: Factory,
                                                                        lake_reads: list[str]) -> None:
    home = factory.settings.home
    assert len(resumable(factory)) == 2  # never asked on this home: asked
    lake_reads.clear()
    assert resumable(factory) == [] and lake_reads == []  # asked a moment ago, nothing left behind since
    live = inflight.Marker(home)  # a run still waiting for its events: not ours to resume
    assert resumable(factory) == [] and lake_reads == []
    live.clear()
    # A publisher killed before its outcomes landed leaves its marker behind, unheld.
    subprocess.run([sys.executable, "-c", "import os, sys; from pathlib import Path; from pipeline import inflight; "
                    f"inflight.Marker(Path({str(home)!r})); os._exit(9)"], check=False)
    assert len(inflight.orphans(home)) == 1
    assert len(resumable(factory)) == 2 and lake_reads  # asked again
    assert inflight.orphans(home) == []  # answered: the run resumes them under a marker of its own
    lake_reads.clear()
    assert resumable(factory) == [] and lake_reads == []


def test_a_raw_only_landing_leaves_work_for_the_next_run_and_an_hour_bounds_the_wait(
        factory: Factory, lake_reads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    home = factory.settings.home
    resumable(factory)
    inflight.Marker(home).release()  # `aifactory ingest`: raw rows landed, chunks still to make
    assert len(resumable(factory)) == 2
    lake_reads.clear()
    assert resumable(factory) == []
    monkeypatch.setattr(inflight, "RECHECK_S", 0.0)  # a publisher elsewhere may have left some
    assert len(resumable(factory)) == 2 and lake_reads
