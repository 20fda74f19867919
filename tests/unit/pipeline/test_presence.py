"""Service cards: listed while their process holds them, gone (and swept) once it ends, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.presence import folder, present, running

# Enters `present`, says so, and on a line from stdin dies without leaving the block (no finally runs).
HOLD = ("import os, pathlib, sys; from pipeline.presence import present\n"
        "with present(pathlib.Path(sys.argv[1]), 'land', detail={'n': 1}):\n"
        "    print('IN', flush=True)\n"
        "    sys.stdin.readline()\n"
        "    os._exit(0)\n")


def test_a_card_is_listed_while_held_and_gone_after_the_block(tmp_path: Path) -> None:
    with present(tmp_path, "index", detail={"group": "g"}) as me:
        found = running(tmp_path, "index")
        assert found == [me]
        assert me.pid == os.getpid() and me.kind == "index" and me.detail == {"group": "g"}
        assert (folder(tmp_path) / f"index-{os.getpid()}.json").is_file()
    assert running(tmp_path, "index") == []
    assert list(folder(tmp_path).iterdir()) == []  # neither the card nor its temp file is left


@pytest.mark.parametrize("death", ["exit", "kill -9"])
def test_a_card_left_by_a_dead_process_is_not_listed_and_is_removed(tmp_path: Path, death: str) -> None:
    with subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "IN"
            # Another process's card, held: listed.
            assert [(p.kind, p.pid, p.detail) for p in running(tmp_path, "land")] == [("land", proc.pid, {"n": 1})]
            assert proc.stdin is not None
            if death == "kill -9":
                proc.send_signal(signal.SIGKILL)
            else:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            assert proc.wait(30) == (0 if death == "exit" else -signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    card = folder(tmp_path) / f"land-{proc.pid}.json"
    assert card.is_file()  # the dead process had no chance to remove it
    assert running(tmp_path, "land") == [] and running(tmp_path) == []
    assert not card.exists()  # swept by the reader


def test_no_state_folder_means_nothing_runs(tmp_path: Path) -> None:
    assert running(tmp_path / "never-used") == []
    assert running(tmp_path / "never-used", "up") == []
    assert not (tmp_path / "never-used").exists()  # looking creates nothing


def test_the_kind_filter(tmp_path: Path) -> None:
    with present(tmp_path, "land") as land, present(tmp_path, "transform") as transform:
        assert running(tmp_path, "land") == [land]
        assert running(tmp_path, "transform") == [transform]
        assert running(tmp_path, "index") == []
        assert sorted(p.kind for p in running(tmp_path)) == ["land", "transform"]
    assert running(tmp_path) == []
