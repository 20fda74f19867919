"""A reader that goes away early (`aifactory status | head -1`) ends the command quietly, with
the shell's SIGPIPE code, not with an "unexpected error" and a traceback in the log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("command", [["status"], ["keys", "list"], ["audit", "verify"]])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / ".aifactory").mkdir()  # the README's default data directory, relative
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFACTORY_")}
    proc = subprocess.Popen([sys.executable, "-m", "aifactory.cli", *command], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "unexpected error" not in err and "Traceback" not in err
    assert not (tmp_path / ".aifactory" / "logs" / "errors.log").exists()
