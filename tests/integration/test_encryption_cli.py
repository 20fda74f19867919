"""`aifactory tenant` on the README's defaults (a relative data directory, no AIFACTORY_HOME),
with encryption on: its classic mistakes are clear errors without a traceback, and a
shred leaves the tenant's searches empty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def aifactory(cwd: Path, *args: str, expect: int = 0, encrypted: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    if encrypted:
        env |= {"AIFACTORY_ENCRYPTION": "on", "AIFACTORY_KMS_DIR": str(cwd.parent / "kms")}
    proc = subprocess.run([sys.executable, "-m", "aifactory.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=cwd)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc


def test_tenant_keys_from_the_command_line(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "docs").mkdir(parents=True)
    (work / "docs" / "memo.md").write_text("# Memo\n\nThe north depot opens at six on weekdays.\n")
    aifactory(work, "run", "docs", "--tenant", "acme", "--jurisdiction", "EU")
    assert (work / ".aifactory" / "keys" / "data-keys" / "acme.json").exists()
    assert f"master keys in {tmp_path / 'kms'}" in aifactory(work, "status").stdout
    assert "holds sealed data but encryption is off here" in aifactory(work, "status", encrypted=False).stdout

    proc = aifactory(work, "tenant", "shred", "--tenant", "acme", expect=2)
    assert "add --yes" in proc.stderr
    proc = aifactory(work, "tenant", "rotate-key", "--tenant", "nobody", expect=2)
    assert "tenant 'nobody' has no documents" in proc.stderr
    proc = aifactory(work, "tenant", "rotate-key", "--tenant", "acme", expect=2, encrypted=False)
    assert "AIFACTORY_ENCRYPTION=on" in proc.stderr
    proc = aifactory(work, "search", "depot", "--tenant", "acme", "--filter", "section=Memo", expect=2)
    assert "section is sealed" in proc.stderr

    rotated = json.loads(aifactory(work, "tenant", "rotate-key", "--tenant", "acme", "--json").stdout)
    assert rotated["data_keys"] == 2
    resealed = json.loads(aifactory(work, "tenant", "reseal", "--tenant", "acme", "--json").stdout)
    assert (resealed["points"], resealed["data_keys_destroyed"]) == (1, 1)
    assert "depot opens at six" in aifactory(work, "search", "depot hours", "--tenant", "acme").stdout
    receipt = json.loads(aifactory(work, "tenant", "shred", "--tenant", "acme", "--yes", "--json").stdout)
    assert receipt["points_removed"] == 1 and receipt["data_keys_destroyed"] == 1
    assert "No results" in aifactory(work, "search", "depot hours", "--tenant", "acme").stdout
    proc = aifactory(work, "tenant", "shred", "--tenant", "acme", "--yes", expect=2)
    assert "already shredded" in proc.stderr
