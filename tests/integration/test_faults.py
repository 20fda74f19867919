"""Fault injection, short: SIGKILL the broker, the faust worker and the process that
lands the lake, each once at a random moment of `aifactory run`; after every restart
the lake, the index and the dead-letter store hold exactly what the folder says.
The long version, with the embedding job too and many kills: benchmarks/faults.py."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from benchmarks.faults import Folder, inject, restart, violations
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

ATTEMPTS = 3  # a kill that finds the run finished is tried again, with a shorter wait


@pytest.mark.timeout(420)
@pytest.mark.parametrize("target", ["broker", "worker", "landing"])
def test_a_killed_run_restarts_to_exactly_the_expected_state(target: str, tmp_path: Path,
                                                             embedder: Embedder) -> None:
    rng = random.Random(target)
    folder = Folder(tmp_path / "src", rng)
    folder.root.mkdir()
    folder.add(6)
    home = tmp_path / "home"
    window = 3.0
    for _ in range(ATTEMPTS):
        folder.change(new=3, edited=2, deleted=1)
        kill = inject(target, home, folder.root, rng, window)
        restart(home, folder.root)
        assert violations(home, folder, embedder) == [], kill
        if kill.hit:
            break
        window /= 3
    assert kill.hit, f"no kill of the {target} landed while it worked in {ATTEMPTS} runs"
