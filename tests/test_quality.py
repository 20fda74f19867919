"""The layering of STYLE.md holds, and the code is lint- and type-clean."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from pipeline.settings import PROJECT_ROOT


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)


def test_import_layers() -> None:
    tool = shutil.which("lint-imports")
    assert tool, "import-linter is not installed: pip install -e '.[test]'"
    proc = run(tool)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff() -> None:
    proc = run(sys.executable, "-m", "ruff", "check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.timeout(900)
def test_mypy() -> None:
    proc = run(sys.executable, "-m", "mypy")
    assert proc.returncode == 0, proc.stdout + proc.stderr
