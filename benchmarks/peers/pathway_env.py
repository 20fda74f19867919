"""The virtual environment Pathway runs in for the peers benchmark.

    python -m benchmarks.peers.pathway_env        # once: ~/.cache/aifactory/pathway-venv

pathway 0.33.0 pins pyarrow<26, and the lake runs on pyarrow 26, so Pathway cannot be
installed beside the project. This venv sees the project's packages (torch,
sentence-transformers, transformers, this repository) through --system-site-packages and
holds its own pathway, pyarrow 25 and the text splitter Pathway's RecursiveSplitter needs,
which shadow the shared ones in that interpreter only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

# Outside the repository, so that linters and test collection never walk it.
VENV = Path(os.environ.get("AIFACTORY_PATHWAY_VENV", Path.home() / ".cache" / "aifactory" / "pathway-venv"))
PACKAGES = ["pathway==0.33.0", "langchain-text-splitters==1.1.3"]


def python() -> Path | None:
    """The venv's interpreter, if the venv was made."""
    exe = VENV / "bin" / "python"
    return exe if exe.exists() else None


def main() -> None:
    if python() is None:
        venv.EnvBuilder(system_site_packages=True, with_pip=True).create(VENV)
    exe = python()
    assert exe is not None
    subprocess.run([str(exe), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    check = "import pathway, pyarrow; print('pathway', pathway.__version__, 'pyarrow', pyarrow.__version__)"
    subprocess.run([str(exe), "-c", check], check=True)
    print(f"ready: {exe}", file=sys.stderr)


if __name__ == "__main__":
    main()
