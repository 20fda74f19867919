"""The threat-signal log: appended by the pipeline, summed by the API reading only what
was added since its last scrape."""

from __future__ import annotations

from pathlib import Path

from governance.ledger import Ledger
from governance.signals import SignalLog
from pipeline.metering import meter_chunking


def test_totals_add_up_and_read_only_what_was_added(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    writer, reader = SignalLog(path), SignalLog(path)  # two processes, in effect
    assert reader.totals() == {}
    writer.raise_("injection", {"acme": 2, "helio": 0})
    assert reader.totals() == {("injection", "acme"): 2}  # a zero is not written
    writer.raise_("injection", {"acme": 3})
    writer.raise_("residency", {"helio": 1})
    offset = reader._offset
    assert reader.totals() == {("injection", "acme"): 5, ("residency", "helio"): 1}
    assert reader._offset > offset
    with path.open("ab") as fh:  # a damaged line and a line still being written
        fh.write(b"not json\n{\"kind\": \"injection\", \"tenant\": \"acme\", \"n\"")
    assert reader.totals() == {("injection", "acme"): 5, ("residency", "helio"): 1}
    with path.open("ab") as fh:
        fh.write(b": 4}\n")
    assert reader.totals()[("injection", "acme")] == 9


def test_a_log_cut_shorter_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    log = SignalLog(path)
    log.raise_("injection", {"acme": 7})
    assert log.totals() == {("injection", "acme"): 7}
    path.write_text("")
    log.raise_("lake_file", {"": 1})
    assert log.totals() == {("lake_file", ""): 1}


def test_landed_chunks_that_screening_quarantined_are_signalled(tmp_path: Path) -> None:
    signals = SignalLog(tmp_path / "signals.jsonl")
    on_landed = meter_chunking(Ledger(tmp_path / "usage.jsonl"), lambda: "run-1", signals)
    rows = [{"op": "upsert", "tenant": "acme", "region": "eu-central", "quarantined": q} for q in (True, True, False)]
    on_landed([*rows, {"op": "delete", "tenant": "acme", "region": "eu-central", "quarantined": True}])
    on_landed([{"op": "upsert", "tenant": "helio", "region": "us-east", "quarantined": False}])
    assert signals.totals() == {("injection", "acme"): 2}  # a tombstone is not a chunk; helio had none
