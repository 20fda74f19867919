"""An input that meets a bug in the transforms is dead-lettered with a clear reason, and
the stream goes on: before, the worker's chunker crashed and a run waited for its stage
timeout with nothing after that event chunked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.sources import Source
from pipeline import runner
from pipeline.deadletters import list_dead_letters
from tests.conftest import MakeFactory
from vectorstore.search import search

pytestmark = pytest.mark.integration

# Loaded by the worker's interpreter at start (PYTHONPATH): a chunker bug that one input trips.
BUG = '''
import transforms.process as process

_real = process.to_chunks


def to_chunks(doc, *args, **kwargs):
    if "TRIGGER-4711" in doc.text:
        raise KeyError("section")
    return _real(doc, *args, **kwargs)


process.to_chunks = to_chunks
'''


def test_an_event_that_meets_a_bug_is_dead_lettered_and_the_rest_indexed(
        tmp_path: Path, make_factory: MakeFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(BUG)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])))
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("# Forklifts\nHelmets are required in aisle seven.\n")
    (src / "b.md").write_text("# Trigger\nThis note says TRIGGER-4711 and meets the bug.\n")
    (src / "c.md").write_text("# Canteen\nLunch is served from noon.\n")
    factory = make_factory(tmp_path / "home")
    try:
        report = runner.run(factory, [Source(src, "acme", "EU")])
        assert report.published == 3 and report.dead_letters_landed == 1
        letters = list_dead_letters(factory)
        assert [d["error_class"] for d in letters] == ["TransformFailed"]
        reason = letters[0]["reason"]
        assert "KeyError: 'section'" in reason and "aifactory dlq replay" in reason, reason
        assert letters[0]["source_uri"].endswith("b.md")
        for text in ("helmets in aisle seven", "lunch from noon"):
            assert search(factory.index, factory.embedder, text, tenant="acme", top_k=1)
        log = (tmp_path / "home" / "logs" / "transform-worker.log").read_text()
        assert "Traceback" in log and "KeyError" in log  # the bug is in the worker's log for whoever fixes it
    finally:
        factory.close()
