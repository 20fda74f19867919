"""A model change with no downtime: the new collections are built beside the old
ones, then the switch is atomic; searches running all along never fail and never
come back empty."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from ingest.sources import Source
from pipeline import runner
from pipeline.factory import Factory
from pipeline.reindex import reindex
from pipeline.settings import PROJECT_ROOT, FactorySettings
from tests.conftest import MakeFactory
from vectorstore.embedder import default_model_path
from vectorstore.index import collection_name
from vectorstore.search import search

pytestmark = pytest.mark.integration

QUESTION = "How much is paid for a weekend on call?"
EXPECTED = "helio-eu:hr/on-call-policy.html"


def second_model(dest: Path) -> Path:
    """The same weights under another name: a different fingerprint, so new collections."""
    shutil.copytree(default_model_path(), dest, ignore=shutil.ignore_patterns("README.md"))
    return dest


def test_reindex_switches_models_while_searches_keep_answering(tmp_path: Path, make_factory: MakeFactory) -> None:
    src = tmp_path / "src"
    shutil.copytree(PROJECT_ROOT / "examples" / "corpus" / "helio-eu" / "hr", src / "hr")
    home = tmp_path / "home"
    factory = make_factory(home)
    runner.run(factory, [Source(src, "helio-eu", "EU")])
    old = factory.active_model()
    assert old is not None
    factory.close()

    seen: list[tuple[str, str | None]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_searching() -> None:
        while not stop.is_set():
            f = Factory(FactorySettings(home=home, kafka=factory.settings.kafka))
            try:
                hits = search(f.index, f.embedder, QUESTION, tenant="helio-eu", top_k=3)
                seen.append((f.embedder.fingerprint.id, hits[0].document_id if hits else None))
            except BaseException as exc:  # noqa: BLE001 - any failure is what the test looks for
                errors.append(exc)
            finally:
                f.close()

    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        while not seen and not errors:
            time.sleep(0.05)
        report = reindex(factory, str(second_model(tmp_path / "model-b")))
        settle = time.monotonic() + 60
        while not any(model == report.new_model for model, _ in seen) and time.monotonic() < settle and not errors:
            time.sleep(0.05)
    finally:
        stop.set()
        searcher.join(120)

    assert not errors, errors[0]
    assert report.old_model == old["id"] and report.new_model != old["id"]
    assert {model for model, _ in seen} == {old["id"], report.new_model}
    assert all(doc == EXPECTED for _, doc in seen), [d for _, d in seen if d != EXPECTED][:3]
    after = Factory(FactorySettings(home=home, kafka=factory.settings.kafka))
    assert after.active_model()["id"] == report.new_model  # type: ignore[index]
    assert (home / "index" / collection_name("eu-central", old["id"])).exists()  # the old stays until dropped
    after.close()

    dropped = reindex(factory, str(default_model_path()), drop_old=True)
    assert dropped.new_model == old["id"] and dropped.sync.upserted == 0  # its collections were still there
    assert dropped.dropped == [collection_name("eu-central", report.new_model)]
    audited = [(e["action"], e["details"].get("new_model")) for e in factory.audit.entries()
               if e["action"].startswith("index.")]
    assert audited == [("index.reindex", report.new_model), ("index.reindexed", report.new_model),
                       ("index.reindex", old["id"]), ("index.reindexed", old["id"])]
