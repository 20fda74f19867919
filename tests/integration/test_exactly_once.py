"""Kill -9 the indexing job at several points of a run; after a rerun the index
holds exactly the expected points: none missing, none twice, none stale."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.sources import Source
from pipeline import runner
from pipeline.settings import PROJECT_ROOT
from tests.conftest import MakeFactory
from vectorstore.sync import plan

pytestmark = pytest.mark.integration

PROGRESS = re.compile(rb"(\d+)/(\d+) \[")


def index_job(home: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    env.update(AIFACTORY_HOME=str(home), AIFACTORY_EMBED_BATCH="8")
    return subprocess.Popen([sys.executable, "-m", "aifactory.cli", "index"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def kill_when_done(proc: subprocess.Popen[bytes], chunks: int, timeout_s: float = 240) -> int:
    """SIGKILL the job once its progress bar reports `chunks` embedded; return how far it got."""
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    seen, buffer, deadline = 0, b"", time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        buffer += proc.stderr.read() or b""
        found = PROGRESS.findall(buffer)
        seen = int(found[-1][0]) if found else 0
        if seen >= chunks:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(30)
    proc.stderr.close()
    return seen


def test_killed_indexing_converges_to_exactly_the_expected_points(tmp_path: Path, make_factory: MakeFactory) -> None:
    src = tmp_path / "src"
    shutil.copytree(PROJECT_ROOT / "examples" / "corpus" / "helio-us", src)
    home = tmp_path / "home"
    factory = make_factory(home)
    runner.run(factory, [Source(src, "helio-us", "US")])
    model_id = factory.embedder.fingerprint.id
    expected = {region: {pid: body["digest"] for pid, (_, body) in points.items()}
                for region, points in plan(factory.lake, model_id).points.items()}
    total = sum(len(v) for v in expected.values())
    factory.close()
    shutil.rmtree(home / "index" / f"chunks__us-east__{model_id}")

    reached = [kill_when_done(index_job(home), at) for at in (8, total // 3, (2 * total) // 3)]
    assert reached[0] >= 8 and reached[-1] < total, f"kills landed at {reached} of {total}"
    finish = index_job(home)
    _, err = finish.communicate(timeout=300)
    assert finish.returncode == 0, err.decode()[-2000:]

    again = make_factory(home)
    index = again.index
    assert index.regions() == sorted(expected)
    for region, digests in expected.items():
        assert index.digests(region) == digests
        assert index.count(region) == len(digests)
    again.close()
