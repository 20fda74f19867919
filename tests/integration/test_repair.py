"""A home an older version left with a chunks part file landed twice (issue 21):
`aifactory status` warns and names `aifactory repair`, the repair folds it through the
real CLI, status is clean again and search still answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.settings import PROJECT_ROOT
from tests.integration.test_cli import aifactory

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus" / "helio-eu" / "hr"


def test_status_warns_of_a_part_file_landed_twice_and_repair_folds_it(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("remote-work.md", "parental-leave.md"):
        shutil.copy(CORPUS / name, src / name)
    home = tmp_path / "home"
    aifactory(home, "run", str(src), "--tenant", "helio-eu", "--jurisdiction", "EU", "--json")
    clean = json.loads(aifactory(home, "status", "--json").stdout)
    assert clean["totals"]["repeated_keys"] == 0 and "repair" not in aifactory(home, "status").stdout

    # The old bug: the same rows under a second part-*.parquet name in the same folder.
    part = sorted((home / "lake" / "chunks").rglob("part-*.parquet"))[0]
    shutil.copy(part, part.with_name("part-copy-of-an-older-run.parquet"))
    copies = json.loads(aifactory(home, "status", "--json").stdout)["lake"]["repeated_keys"]["chunks"]
    assert copies > 0
    text = aifactory(home, "status").stdout
    assert f"warning: {copies} lake row(s) stored twice (chunks: {copies})" in text
    assert "run `aifactory repair`" in text

    dry = aifactory(home, "repair", "--dry-run")
    assert f"would drop {copies} repeated row(s)" in dry.stdout and "would fold" in dry.stderr  # a line per folder
    assert part.with_name("part-copy-of-an-older-run.parquet").exists()

    done = json.loads(aifactory(home, "repair", "--json").stdout)
    chunks = done["tables"]["chunks"]
    assert not done["dry_run"] and done["repeated"] == done["dropped"] == copies and done["folders"] == 1
    assert chunks["rows_before"] - chunks["rows_after"] == copies and chunks["dropped_by_tenant"] == {
        "helio-eu": copies}
    assert done["tables"]["raw"]["folders"] == [] and "aifactory index" in done["index"]

    after = json.loads(aifactory(home, "status", "--json").stdout)
    assert after["totals"]["repeated_keys"] == 0 and after["totals"]["chunk_rows"] == clean["totals"]["chunk_rows"]
    assert after["totals"]["points"] == clean["totals"]["points"]
    assert "nothing to repair" in aifactory(home, "repair").stdout

    hits = json.loads(aifactory(home, "search", "parental leave", "--tenant", "helio-eu", "--top-k", "2",
                                "--json").stdout)
    assert hits and hits[0]["document_id"].startswith("helio-eu:")


def test_repair_where_nothing_was_ingested_says_so(tmp_path: Path) -> None:
    proc = aifactory(tmp_path / "home", "repair", expect=2)
    assert "no data directory at" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
