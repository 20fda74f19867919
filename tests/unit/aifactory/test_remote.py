"""What a command line sends to the running factory, and what the factory declines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aifactory.cli import parser
from aifactory.remote import _Lines, carry_out, request_of


def test_paths_travel_absolute_and_a_resident_run_stays_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIFACTORY_FETCH_MAX_WAIT_MS", "40")
    request = request_of(parser().parse_args(["run", "docs", "--tenant", "t", "--jurisdiction", "EU"]))
    assert request is not None and request["name"] == "run"
    assert request["args"]["paths"] == [str(tmp_path / "docs")]
    assert request["env"] == {"AIFACTORY_FETCH_MAX_WAIT_MS": "40"} | {
        k: v for k, v in os.environ.items() if k.startswith(("KAFKA_", "QDRANT_"))
        or (k.startswith("AIFACTORY_") and k not in ("AIFACTORY_HOME", "AIFACTORY_FETCH_MAX_WAIT_MS"))}
    assert request_of(parser().parse_args(["run", "docs", "--follow"])) is None
    assert request_of(parser().parse_args(["erase", "--tenant", "t", "--subject", "x@y.z"])) is None
    html = parser().parse_args(["lineage", "trace", "t:a.md", "--format", "html"])
    assert request_of(html) is None  # its default file is the command line's folder
    html.out = "page.html"
    assert request_of(html)["args"]["out"] == str(tmp_path / "page.html")  # type: ignore[index]


def test_the_factory_declines_a_command_line_with_other_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIFACTORY_FETCH_MAX_WAIT_MS", raising=False)
    answer = carry_out(object(), name="lineage", args={}, env={"AIFACTORY_FETCH_MAX_WAIT_MS": "40"}, cwd="/",
                       say=print)
    assert "declined" in answer
    assert "declined" in carry_out(object(), name="erase", args={}, env={}, cwd="/", say=print)


def test_progress_reaches_the_client_a_whole_line_at_a_time() -> None:
    said: list[str] = []
    lines = _Lines(said.append)
    lines.write("[  0.1 s] scan     reading")
    lines.write(" 1 source(s)\n[  0.2 s] stream ")
    assert said == ["[  0.1 s] scan     reading 1 source(s)"] and not lines.isatty()
