"""In a real browser: `dagster dev -w workspace.yaml` on loopback over the sample
corpus, headless Chromium (Debian's package, driven by Playwright; nothing is
downloaded) opens the asset graph, launches a materialisation from the UI and waits
for it to succeed, and launches a backfill of two daily partitions (in a second tab,
so the daemon works on it meanwhile) and waits for it to complete; and it presses what
the README tells a data engineer to press to run the pipeline, which must launch one run
of the unpartitioned assets, not a backfill. Screenshots are kept under test-artifacts/
as artefacts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from ingest.broker import EmbeddedBroker, free_port
from ingest.settings import KafkaSettings
from pipeline import runner
from pipeline.factory import Factory
from pipeline.settings import PROJECT_ROOT, SAMPLE_SOURCES, FactorySettings, load_sources
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
START_TIMEOUT_S = 120
RUN_TIMEOUT_MS = 90_000
PIPELINE_RUN_TIMEOUT_MS = 300_000  # the whole pipeline in a fresh run process: model load, broker, every stage
README = PROJECT_ROOT / "README.md"
UNPARTITIONED = {"raw_lake", "chunks_lake", "dead_letters_lake", "vector_index", "lineage_store", "usage_ledger"}
# The backfill daemon wakes every 30 s: one wake-up submits the runs, a later one marks it done.
BACKFILL_TIMEOUT_S = 150

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


class DagsterUI(NamedTuple):
    url: str  # the webserver of `dagster dev`
    home: Path  # the factory's data directory it runs over


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker,
               embedder: Embedder) -> Iterator[DagsterUI]:
    """The factory's data directory holding the sample corpus, and `dagster dev` over it.
    The corpus is the one ingest_job reads by default, so the README's "Materialize all"
    finds it indexed already (the run still drives every stage, each finding nothing new)."""
    _need_chromium()
    tmp = tmp_path_factory.mktemp("dagster-ui")
    home = tmp / "aifactory"
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix="ui-test")
    factory = Factory(FactorySettings(home=home, kafka=kafka, stage_timeout_s=180), embedder=embedder)
    runner.run(factory, load_sources(SAMPLE_SOURCES))
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
        yield DagsterUI(url, home)
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


def _new_page(browser: sync_api.Browser) -> sync_api.Page:
    """A page that skips the 'Join the Dagster community' dialog whenever it shows up: on a
    loaded machine it can open after a fixed wait for it has given up, and cover the page."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    welcome = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    page.add_locator_handler(welcome, lambda dialog: dialog.get_by_role("button", name="Skip").click())
    return page


def _graphql(ui: DagsterUI, query: str, **variables: Any) -> dict[str, Any]:
    request = urllib.request.Request(f"{ui.url}/graphql", data=json.dumps({"query": query, "variables": variables})
                                     .encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _open_materialise_dialog(page: sync_api.Page, url: str, asset: str) -> None:
    page.goto(f"{url}/assets/{asset}", wait_until="networkidle")
    _dismiss_welcome(page)
    page.locator("button", has_text="Materialize").first.click()
    # Its upstream assets were built outside Dagster (by `aifactory run`). Until the
    # outside-writes sensor has reported them (its first tick), Dagster asks to confirm;
    # after, the run (or the partition dialog) comes at once.
    confirm = page.get_by_role("button", name="Confirm")
    launched = page.get_by_role("link", name="View", exact=True)  # the "Launched run" toast
    partitions = page.get_by_text("Launch runs to materialize")
    confirm.or_(launched).or_(partitions).first.wait_for(timeout=30_000)
    if confirm.is_visible():
        confirm.click()
        # Blueprint gives focus back to the Materialize button when the confirm's close
        # transition ends. On a loaded machine (CI) that can come after the partitions field is
        # focused, and its Enter then presses Materialize again (a second confirm, no
        # partitions): the confirm must be gone before anything is typed.
        sync_api.expect(page.get_by_text("Are you sure?")).to_have_count(0, timeout=30_000)


def _launch_backfill(page: sync_api.Page, url: str, days: list[str]) -> str:
    """Launch a backfill of tenant_usage_daily over `days` from its asset page; its id."""
    _open_materialise_dialog(page, url, "tenant_usage_daily")
    dialog = page.get_by_role("dialog")
    sync_api.expect(dialog.get_by_text("Launch runs to materialize tenant_usage_daily")).to_be_visible()
    partitions = dialog.locator("input:not([type=checkbox])").first
    # A range typed before the partition keys load is refused with an alert.
    sync_api.expect(partitions).not_to_have_attribute("placeholder", "Loading partition keys...", timeout=30_000)
    partitions.fill(f"[{days[0]}...{days[-1]}]")
    partitions.press("Enter")
    sync_api.expect(dialog.get_by_text(f"{len(days)} partitions", exact=True)).to_be_visible(timeout=10_000)
    dialog.get_by_role("button", name="Launch backfill").click()
    toast = page.get_by_text("Created backfill")
    sync_api.expect(toast).to_be_visible(timeout=30_000)
    return toast.inner_text().split()[-1]


def _wait_for_backfill(ui: DagsterUI, backfill_id: str) -> None:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    while True:
        status = _graphql(ui, BACKFILL_STATUS, id=backfill_id)["partitionBackfillOrError"]["status"]
        if status == "COMPLETED_SUCCESS":
            return
        assert status == "REQUESTED", f"backfill {backfill_id}: {status}"
        assert time.monotonic() < deadline, f"backfill {backfill_id} still {status} after {BACKFILL_TIMEOUT_S} s"
        time.sleep(1)


def _readme_click_path() -> list[str]:
    """What the README's Dagster section tells a data engineer to press to run the
    pipeline: the first `press **A** > **B** > **C**` in it."""
    text = README.read_text(encoding="utf-8")
    start = text.index("## Running the factory from Dagster")
    section = text[start:text.index("\n## ", start + 1)]
    found = re.search(r"press\s+((?:\*\*[^*]+\*\*\s*>\s*)+\*\*[^*]+\*\*)", section)
    assert found, "the README's Dagster section does not say what to press (press **A** > **B** > ...)"
    return [step.strip().strip("*") for step in found.group(1).split(">")]


def _press(page: sync_api.Page, name: str) -> None:
    """Click the button, link or label called `name`, as a person reading the README would."""
    target = page.get_by_role("button", name=name, exact=True).or_(
        page.get_by_role("link", name=name, exact=True)).or_(page.get_by_text(name, exact=True))
    target.first.click(timeout=30_000)


BACKFILL_STATUS = """query($id: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }"""
RUN = """query($id: ID!) { runOrError(runId: $id) { ... on Run { jobName status assetSelection { path }
  assetCheckSelection { name } tags { key value } } } }"""
MATERIALISED = """query($partitions: [String!]) { assetNodeOrError(assetKey: {path: ["tenant_usage_daily"]}) {
  ... on AssetNode { assetMaterializations(partitions: $partitions) { partition runOrError { ... on Run { tags {
  key value } } } } } } }"""


def test_materialise_and_backfill_from_the_ui(dagster_ui: DagsterUI) -> None:
    url = dagster_ui.url
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=1)).isoformat(), today.isoformat()]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page, backfill_page = (_new_page(browser) for _ in range(2))
        shot = "dagster-failure.png"
        try:
            # First the backfill: the daemon takes it up on its next 30 s wake-up, meanwhile the rest runs.
            shot = "dagster-backfill-failure.png"
            backfill_id = _launch_backfill(backfill_page, url, days)

            shot = "dagster-failure.png"
            page.goto(f"{url}/asset-groups", wait_until="networkidle")
            _dismiss_welcome(page)
            for group in ("stream", "lake", "index", "governance", "billing", "maintenance"):
                sync_api.expect(page.get_by_text(group, exact=True).first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "dagster-asset-graph.png"), full_page=True)

            _open_materialise_dialog(page, url, "lineage_store")
            page.get_by_role("link", name="View", exact=True).click(timeout=30_000)  # the "Launched run" toast
            page.wait_for_url(f"{url}/runs/*")
            sync_api.expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)

            page.goto(f"{url}/assets/lineage_store", wait_until="networkidle")
            sync_api.expect(page.get_by_text("points_traced").first).to_be_visible(timeout=30_000)
            sync_api.expect(page.get_by_text("untraceable_points").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "dagster-lineage-store-materialised.png"), full_page=True)

            shot = "dagster-backfill-failure.png"
            _wait_for_backfill(dagster_ui, backfill_id)
            backfill_page.goto(f"{url}/runs/b/{backfill_id}", wait_until="networkidle")
            sync_api.expect(backfill_page.get_by_text("Succeeded", exact=True).first).to_be_visible(timeout=30_000)
            sync_api.expect(backfill_page.get_by_text("100% completed")).to_be_visible()
            backfill_page.screenshot(path=str(ARTIFACTS / "dagster-backfill-completed.png"), full_page=True)
        except Exception:
            (backfill_page if "backfill" in shot else page).screenshot(path=str(ARTIFACTS / shot), full_page=True)
            raise
        finally:
            browser.close()

    node = _graphql(dagster_ui, MATERIALISED, partitions=days)["assetNodeOrError"]
    by_partition = {m["partition"]: {t["key"]: t["value"] for t in m["runOrError"]["tags"]}
                    for m in node["assetMaterializations"]}
    assert sorted(by_partition) == days
    assert all(tags.get("dagster/backfill") == backfill_id for tags in by_partition.values())
    # Each run wrote its day's usage report; the corpus indexed today is billed in one of them.
    reports = [json.loads((dagster_ui.home / "reports" / "usage" / "daily" / f"{d}.json").read_text()) for d in days]
    assert any(line["tokens_embedded"] > 0 for r in reports for line in r["lines"])


def test_what_the_readme_says_to_press_runs_the_unpartitioned_pipeline(dagster_ui: DagsterUI) -> None:
    """The first hour: the README's click path launches one run of the unpartitioned assets
    and their checks, with no backfill dialog or partition picker on the way."""
    url = dagster_ui.url
    steps = _readme_click_path()
    assert steps[-1] == "Materialize all", steps
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = _new_page(browser)
        try:
            # What the README warns against is still true: Lineage's "Materialize all" is a backfill of everything.
            page.goto(f"{url}/asset-groups", wait_until="networkidle")
            _dismiss_welcome(page)
            page.get_by_role("button", name="Materialize all").first.click()  # labelled "Materialize all (8)"
            dialog = page.get_by_role("dialog")
            sync_api.expect(dialog.get_by_role("button", name="Launch backfill")).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "dagster-lineage-materialize-all-is-a-backfill.png"))
            dialog.get_by_role("button", name="Cancel").click()
            sync_api.expect(dialog).to_have_count(0)

            for step in steps:
                _press(page, step)
            sync_api.expect(page.get_by_text("Launched run")).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "dagster-readme-materialize-all-launched.png"))
            # No launch dialog of any kind opened: no partition picker, no "Launch backfill".
            sync_api.expect(page.get_by_role("dialog")).to_have_count(0)
            sync_api.expect(page.get_by_text("Launch backfill")).to_have_count(0)
            page.get_by_role("link", name="View", exact=True).click(timeout=30_000)  # the "Launched run" toast
            page.wait_for_url(f"{url}/runs/*")
            run_id = page.url.rstrip("/").split("/")[-1].split("?")[0]
            sync_api.expect(page.get_by_text("Success", exact=True).first).to_be_visible(
                timeout=PIPELINE_RUN_TIMEOUT_MS)
            page.screenshot(path=str(ARTIFACTS / "dagster-readme-pipeline-run-succeeded.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "dagster-readme-failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    run = _graphql(dagster_ui, RUN, id=run_id)["runOrError"]
    assert run["jobName"] == "ingest_job" and run["status"] == "SUCCESS"
    assert {"/".join(a["path"]) for a in run["assetSelection"]} == UNPARTITIONED
    assert {"pii_leak", "residency_compliance", "raw_freshness"} <= {c["name"] for c in run["assetCheckSelection"]}
    tags = {t["key"] for t in run["tags"]}
    assert not {"dagster/backfill", "dagster/partition"} & tags, tags
