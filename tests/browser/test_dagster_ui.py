"""In a real browser: `dagster dev -w workspace.yaml` on loopback over a small sample
corpus, headless Chromium (Debian's package, driven by Playwright; nothing is
downloaded) opens the asset graph, launches a materialisation from the UI and waits
for it to succeed. Screenshots are kept under test-artifacts/ as artefacts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aifactory import pipeline
from aifactory.factory import Factory
from aifactory.settings import PROJECT_ROOT, FactorySettings
from ingest.broker import EmbeddedBroker, free_port
from ingest.settings import KafkaSettings
from ingest.sources import Source
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
START_TIMEOUT_S = 120
RUN_TIMEOUT_MS = 90_000

# Outside CI a machine without playwright skips; in CI its absence is a missing install step.
if os.environ.get("CI"):
    import playwright.sync_api as sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")


def _need_chromium() -> None:
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker, embedder: Embedder) -> Iterator[str]:
    """The factory's data directory holding a small corpus, and `dagster dev` over it."""
    _need_chromium()
    tmp = tmp_path_factory.mktemp("dagster-ui")
    home = tmp / "aifactory"
    shutil.copytree(PROJECT_ROOT / "examples" / "corpus" / "helio-us" / "hr", tmp / "corpus")
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix="ui-test")
    factory = Factory(FactorySettings(home=home, kafka=kafka, stage_timeout_s=180), embedder=embedder)
    pipeline.run(factory, [Source(tmp / "corpus", "helio-us", "US")])
    factory.close()
    (tmp / "dagster").mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}
    env.update(DAGSTER_HOME=str(tmp / "dagster"), AIFACTORY_HOME=str(home), HF_HUB_OFFLINE="1")
    log = (tmp / "dagster-dev.log").open("wb")
    # Its own process group: dagster dev ignores SIGTERM from a background shell and keeps
    # its children; the whole group is stopped at the end.
    proc = subprocess.Popen(["dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dagster dev did not start; see {tmp / 'dagster-dev.log'}") from None
                time.sleep(0.5)
        yield url
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=10)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


def _dismiss_welcome(page: sync_api.Page) -> None:
    """A 'Join the Dagster community' dialog covers the first page load."""
    with contextlib.suppress(sync_api.TimeoutError):
        page.get_by_role("button", name="Skip").click(timeout=5_000)


def test_materialise_from_the_asset_graph(dagster_ui: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            page.goto(f"{dagster_ui}/asset-groups", wait_until="networkidle")
            _dismiss_welcome(page)
            for group in ("stream", "lake", "index", "governance", "maintenance"):
                sync_api.expect(page.get_by_text(group, exact=True).first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "dagster-asset-graph.png"), full_page=True)

            page.goto(f"{dagster_ui}/assets/lineage_store", wait_until="networkidle")
            _dismiss_welcome(page)
            page.locator("button", has_text="Materialize").first.click()
            # Its upstream assets were built outside Dagster (by `aifactory run`): confirm.
            confirm = page.get_by_role("button", name="Confirm")
            confirm.wait_for(timeout=10_000)
            confirm.click()
            page.goto(f"{dagster_ui}/runs", wait_until="networkidle")
            sync_api.expect(page.get_by_text("Success").first).to_be_visible(timeout=RUN_TIMEOUT_MS)

            page.goto(f"{dagster_ui}/assets/lineage_store", wait_until="networkidle")
            sync_api.expect(page.get_by_text("points_traced").first).to_be_visible(timeout=30_000)
            sync_api.expect(page.get_by_text("untraceable_points").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "dagster-lineage-store-materialised.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "dagster-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
