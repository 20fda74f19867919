"""`aifactory serve` writes one access-log line per request to stderr by default, with
the key id and never the key, and uvicorn's own access log stays off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.fixtures.http import aifactory_serve

pytestmark = pytest.mark.integration


def test_serve_writes_the_access_log_to_stderr(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    env["AIFACTORY_HOME"] = str(tmp_path / "home")
    created = json.loads(subprocess.run(
        [sys.executable, "-m", "aifactory.cli", "keys", "create", "--tenant", "acme", "--role", "reader",
         "--region", "eu-central", "--json"], env=env, capture_output=True, text=True, timeout=300, check=True).stdout)
    with aifactory_serve(env) as served:
        r = httpx.post(served.url + "/v1/search", json={"query": "parental leave"}, timeout=60,
                       headers={"Authorization": f"Bearer {created['token']}"})
        assert r.status_code == 200, r.text
    err = served.err
    lines = [line for line in err.splitlines() if "/v1/search" in line]
    assert len(lines) == 1, err
    for part in ("POST", "200", "acme", created["key_id"]):
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"
    assert created["token"] not in err and "parental leave" not in err
    assert "HTTP/1.1" not in err, "uvicorn's own access log is on"
    assert any("/healthz" in line for line in err.splitlines()), err
