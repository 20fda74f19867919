"""The resident mode's plan, kept up to date from new lake files only, is always
the plan that a full read of the chunks lake gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.contracts import DocumentEvent, LogPosition
from ingest.lake import Lake
from transforms.process import to_chunks
from transforms.tables import CHUNKS, chunk_row
from transforms.tokens import TokenCounter, token_counter
from vectorstore.embedder import default_model_path
from vectorstore.sync import LivePlan, Plan, plan

MODEL = "test-model"
FOOTER = ("## Confidentiality\nThis document is internal to Helio Robotics. Do not forward it outside the company. "
          "Questions about handling go to the information security team, who answer within two working days.")


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return token_counter(default_model_path())


def digests(p: Plan) -> dict[str, dict[str, str]]:
    return {region: {pid: body["digest"] for pid, (_, body) in points.items()}
            for region, points in p.points.items() if points}


class Lakeside:
    def __init__(self, root: Path, counter: TokenCounter) -> None:
        self.lake, self.counter, self.offset = Lake(root), counter, 0

    def land(self, tenant: str, doc: str, version: int, text: str = "", *, op: str = "upsert",
             jurisdiction: str = "EU") -> None:
        self.lake.write(CHUNKS, self.rows(tenant, doc, version, text, op=op, jurisdiction=jurisdiction))

    def rows(self, tenant: str, doc: str, version: int, text: str = "", *, op: str = "upsert",
             jurisdiction: str = "EU") -> list[dict]:
        """The chunk rows of one event, as a lander writes them (in one file, or split over two flushes)."""
        region = "eu-central" if jurisdiction == "EU" else "us-east"
        event = DocumentEvent.new(op=op, tenant=tenant, document_id=f"{tenant}:{doc}", version=version, text=text,
                                  title=doc, jurisdiction=jurisdiction, region=region,
                                  source_uri=f"file:///src/{doc}", source_root="file:///src")
        self.offset += 1
        at = LogPosition(epoch="e", topic="raw", partition=0, offset=self.offset)
        return [chunk_row(r, at) for r in to_chunks(event, at, self.counter)]


def test_live_plan_follows_every_kind_of_change(tmp_path: Path, counter: TokenCounter) -> None:
    side = Lakeside(tmp_path / "lake", counter)
    side.land("acme", "a.md", 1, f"# Forklifts\nHelmets are required in aisle 7.\n{FOOTER}")
    side.land("acme", "b.md", 1, f"# Conveyors\nBelts are checked every Monday.\n{FOOTER}")
    side.land("globex", "c.md", 1, "# Canteen\nLunch is served from noon.", jurisdiction="US")
    live = LivePlan(side.lake, MODEL)
    current, changed = live.refresh()
    assert changed and digests(current) == digests(plan(side.lake, MODEL))
    assert current.duplicates == 1
    assert live.refresh()[1] is False  # no new file, nothing to redo

    steps = [
        lambda: side.land("acme", "a.md", 2, f"# Forklifts\nHelmets and vests are required.\n{FOOTER}"),
        lambda: side.land("acme", "a.md", 3, op="delete"),  # the family's kept chunk goes: b's takes over
        lambda: side.land("acme", "a.md", 1, f"# Forklifts\nHelmets are required in aisle 7.\n{FOOTER}"[:60]),
        lambda: side.land("globex", "c.md", 2, "# Canteen\nLunch is served from half past twelve."),
        lambda: side.land("acme", "d.md", 1, f"# Docks\nTrucks dock at gate 2.\n{FOOTER}"),
        lambda: side.lake.drop(CHUNKS),  # a rebuild: read again in full
        lambda: side.land("globex", "c.md", 3, "# Canteen\nClosed on Fridays."),
    ]
    for n, step in enumerate(steps):
        step()
        current, _ = live.refresh()
        assert digests(current) == digests(plan(side.lake, MODEL)), f"step {n}"
        assert current.duplicates == plan(side.lake, MODEL).duplicates, f"step {n}"
