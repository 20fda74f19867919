"""In a real browser with the internet cut off: /docs (Swagger UI) and /redoc of the
vector API render every route from assets the server itself serves. Every request
that leaves loopback is aborted and counted; there must be none. Screenshots are kept
under test-artifacts/."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from aifactory.serve import ApiSettings, build
from ingest.broker import EmbeddedBroker
from ingest.settings import EMBEDDED_WORKER_SESSION_MS, KafkaSettings
from pipeline.factory import Factory
from pipeline.settings import PROJECT_ROOT, FactorySettings
from tests.fixtures.http import serving
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ROUTES = ("/v1/search", "/v1/rag/context", "/v1/documents/{document_id}", "/v1/deletions/{request_id}")

if os.environ.get("CI"):
    import playwright.sync_api as sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker, embedder: Embedder) -> Iterator[str]:
    """The vector API over an empty data directory: the docs need the schema, not data."""
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=f"t{uuid.uuid4().hex[:10]}",
                          worker_session_timeout_ms=EMBEDDED_WORKER_SESSION_MS)
    factory = Factory(FactorySettings(home=tmp_path_factory.mktemp("docs") / "home", kafka=kafka), embedder=embedder)
    app, backend = build(factory, ApiSettings(rate_per_s=0))
    try:
        with serving(app) as url:
            yield url
    finally:
        backend.close()
        factory.close()


def test_docs_render_offline(api_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    aborted: list[str] = []

    def only_loopback(route: sync_api.Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route("**/*", only_loopback)
        # What the pages' Content-Security-Policy refuses never reaches the network (nor the route above).
        refused = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        try:
            page.goto(f"{api_url}/docs", wait_until="networkidle")
            sync_api.expect(page.locator(".swagger-ui .info .title")).to_contain_text("AI factory vector API",
                                                                                  timeout=30_000)
            for path in ROUTES:
                sync_api.expect(page.locator(f".opblock-summary-path[data-path='{path}']").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "api-docs-swagger.png"), full_page=True)

            page.goto(f"{api_url}/redoc", wait_until="networkidle")
            sync_api.expect(page.get_by_role("heading", name="AI factory vector API").first).to_be_visible(
                timeout=30_000)
            sync_api.expect(page.get_by_text("/v1/rag/context").first).to_be_attached()
            page.screenshot(path=str(ARTIFACTS / "api-docs-redoc.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "api-docs-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert aborted == [], f"the docs reached beyond loopback: {aborted}"
    assert all("cdn.redoc.ly" in m for m in refused), refused  # ReDoc's sidebar logo only
