"""`aifactory serve` writes one access-log line per request to stderr by default, with
the key id and never the key, and uvicorn's own access log stays off; given a
certificate and its key, it serves HTTPS only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.fixtures.http import aifactory_serve, trusting
from tests.fixtures.tls import self_signed

pytestmark = pytest.mark.integration


def reader_key(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(the environment of a fresh home, a reader key of acme made there with the CLI)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    env["AIFACTORY_HOME"] = str(tmp_path / "home")
    created = json.loads(subprocess.run(
        [sys.executable, "-m", "aifactory.cli", "keys", "create", "--tenant", "acme", "--role", "reader",
         "--region", "eu-central", "--json"], env=env, capture_output=True, text=True, timeout=300, check=True).stdout)
    return env, created


def test_serve_writes_the_access_log_to_stderr(tmp_path: Path) -> None:
    env, created = reader_key(tmp_path)
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


def test_serve_with_a_certificate_speaks_https_only(tmp_path: Path) -> None:
    env, created = reader_key(tmp_path)
    cert, key = self_signed(tmp_path)
    with aifactory_serve(env, args=("--tls-cert", cert, "--tls-key", key), tls_ca=cert) as served:
        assert served.url.startswith("https://")
        r = httpx.post(served.url + "/v1/search", json={"query": "parental leave"}, timeout=60, verify=trusting(cert),
                       headers={"Authorization": f"Bearer {created['token']}"})
        assert r.status_code == 200, r.text
        with pytest.raises(httpx.HTTPError):  # the same port refuses plain HTTP: the key never travels in clear
            httpx.get(served.url.replace("https://", "http://") + "/healthz", timeout=10)
        with pytest.raises(httpx.ConnectError):  # and a client that does not trust the certificate stops
            httpx.get(served.url + "/healthz", timeout=10)
    assert f"serving the vector API on {served.url}" in served.out


@pytest.mark.parametrize(("args", "message"), [
    (("--tls-cert", "{cert}"), "needs both a certificate and its private key"),
    (("--tls-cert", "{cert}", "--tls-key", "{missing}"), "no such file"),
    (("--tls-cert", "{key}", "--tls-key", "{cert}"), "cannot be used together"),
])
def test_serve_refuses_a_tls_setup_it_cannot_use(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    cert, key = self_signed(tmp_path)
    env, _ = reader_key(tmp_path)  # a home that exists
    argv = [a.format(cert=cert, key=key, missing=tmp_path / "none.pem") for a in args]
    done = subprocess.run([sys.executable, "-m", "aifactory.cli", "serve", *argv], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
