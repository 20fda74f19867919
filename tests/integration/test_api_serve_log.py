"""`aifactory serve` writes one access-log line per request to stderr by default, with
the key id and never the key, and uvicorn's own access log stays off."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_writes_the_access_log_to_stderr(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    env["AIFACTORY_HOME"] = str(tmp_path / "home")
    created = json.loads(subprocess.run(
        [sys.executable, "-m", "aifactory.cli", "keys", "create", "--tenant", "acme", "--role", "reader",
         "--region", "eu-central", "--json"], env=env, capture_output=True, text=True, timeout=300, check=True).stdout)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "aifactory.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "aifactory serve did not start"
            time.sleep(0.3)
        r = httpx.post(url + "/v1/search", json={"query": "parental leave"}, timeout=60,
                       headers={"Authorization": f"Bearer {created['token']}"})
        assert r.status_code == 200, r.text
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    lines = [line for line in err.splitlines() if "/v1/search" in line]
    assert len(lines) == 1, err
    for part in ("POST", "200", "acme", created["key_id"]):
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"
    assert created["token"] not in err and "parental leave" not in err
    assert "HTTP/1.1" not in err, "uvicorn's own access log is on"
    assert any("/healthz" in line for line in err.splitlines()), err
