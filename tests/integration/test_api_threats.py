"""Identity and threat signals of the vector API over real HTTP: scoped and expiring
keys, and the four threat signals (failed-auth bursts, cross-tenant probes, quarantine
spikes, export volume) counted in /metrics and firing the shipped alert rules when
Prometheus's own rule engine (`promtool test rules`) evaluates them on what was scraped."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from pipeline.settings import PROJECT_ROOT
from tests.integration.conftest import ApiWorld

pytestmark = pytest.mark.integration

RULES = PROJECT_ROOT / "deploy" / "prometheus" / "aifactory-alerts.yml"
SIGNALS = ("aifactory_api_auth_failures_total", "aifactory_api_cross_tenant_probes_total",
           "aifactory_quarantined_total", "aifactory_api_response_bytes_total")
Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def search(world: ApiWorld, token: str, path: str = "/v1/search") -> httpx.Response:
    return httpx.post(world.url + path, json={"query": "parental leave"}, headers=bearer(token), timeout=60)


def test_a_scoped_key_does_only_its_operations(api_world: ApiWorld) -> None:
    _, token = api_world.keys.create("helio-eu", "reader", ["eu-central"], scopes=["search"])
    assert search(api_world, token).status_code == 200
    refused = search(api_world, token, "/v1/rag/context")
    assert refused.status_code == 403
    assert "scoped to search, not context" in refused.json()["detail"]


def test_an_expired_key_is_refused_until_it_is_extended(api_world: ApiWorld) -> None:
    key, token = api_world.keys.create("helio-eu", "reader", ["eu-central"],
                                       expires_at=(datetime.now(UTC) - timedelta(seconds=1)).isoformat())
    refused = search(api_world, token)
    assert refused.status_code == 401 and refused.json()["title"] == "Expired API key"
    assert "keys update" in refused.json()["detail"]
    api_world.keys.update(key.key_id, expires_at="")
    assert search(api_world, token).status_code == 200


def scrape(world: ApiWorld) -> Scrape:
    text = httpx.get(world.url + "/metrics", headers=world.auth("*/admin"), timeout=60).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples if s.name in SIGNALS}


def expand(text: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], text)


@pytest.fixture
def promtool() -> Iterator[str]:
    found = shutil.which("promtool")
    if found is None and os.environ.get("CI") != "true":
        pytest.skip("promtool (Debian's prometheus package) is not installed here; CI installs it")
    assert found, "promtool missing: .ci/run installs Debian's prometheus package"
    yield found


def test_threat_signals_are_counted_and_fire_the_shipped_alerts(api_world: ApiWorld, promtool: str,
                                                                tmp_path: Path) -> None:
    before = scrape(api_world)
    # The pipeline's own screening quarantined the planted injection note of acme (conftest).
    assert before.get(("aifactory_quarantined_total", (("kind", "injection"), ("tenant", "acme"))), 0) >= 1

    for n in range(25):  # a key-guessing burst
        assert httpx.get(api_world.url + "/v1/documents/x", headers=bearer(f"aif_guess{n}_secret"),
                         timeout=60).status_code == 401
    theirs = next(d for d in api_world.documents["helio-eu"] if d.startswith("helio-eu:"))
    answers = []
    for _ in range(3):  # helio-us asks for a document that exists under helio-eu
        answers.append(httpx.get(api_world.url + "/v1/documents/" + quote(theirs, safe="/:"),
                                 headers=api_world.auth("helio-us/reader"), timeout=60))
    unheld = httpx.get(api_world.url + "/v1/documents/helio-eu:no-such-file.md",
                       headers=api_world.auth("helio-us/reader"), timeout=60)
    assert {a.status_code for a in answers} == {unheld.status_code} == {404}
    # The probe's answer says no more than any unknown id's: nothing about the other tenant.
    assert answers[0].json()["detail"].replace(theirs, "ID") == unheld.json()["detail"].replace(
        "helio-eu:no-such-file.md", "ID")
    # A poisoned source: the chunk lander raises this signal for each batch it lands.
    api_world.factory.signals.raise_("injection", {"acme": 12})
    exported = sum(len(search(api_world, api_world.tokens["helio-eu/reader"]).content) for _ in range(3))
    after = scrape(api_world)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("aifactory_api_auth_failures_total", reason="unknown") == 25
    assert grew("aifactory_api_cross_tenant_probes_total", tenant="helio-us") == 3  # the unheld id is no probe
    assert grew("aifactory_quarantined_total", kind="injection", tenant="acme") == 12
    assert grew("aifactory_api_response_bytes_total", route="/v1/search", tenant="helio-eu") == exported

    # Prometheus's rule engine on what was scraped: each series goes from its value before to
    # its value after, one minute apart. The export threshold (500 MB an hour) is lowered to
    # half of what the three searches read: the rule's expression and labels are what is tested.
    rules = yaml.safe_load(RULES.read_text())
    rules_copy = tmp_path / "alerts.yml"
    rules_copy.write_text(RULES.read_text().replace("> 500e6", f"> {exported / 2:g}"))
    series = [{"series": name + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}",
               "values": f"{before.get((name, labels), 0):g} {value:g} {value:g}"}
              for (name, labels), value in after.items()]
    expected: dict[str, dict[str, str]] = {
        "AuthFailureBurst": {"reason": "unknown"}, "CrossTenantProbing": {"tenant": "helio-us"},
        "QuarantineSpike": {"tenant": "acme", "kind": "injection"}, "UnusualExportVolume": {"tenant": "helio-eu"}}
    checks: list[dict[str, Any]] = []
    for rule in rules["groups"][0]["rules"]:
        labels = expected.pop(rule["alert"])
        checks.append({"eval_time": "2m", "alertname": rule["alert"], "exp_alerts": [{
            "exp_labels": {**labels, **rule["labels"]},
            "exp_annotations": {k: expand(v, labels) for k, v in rule["annotations"].items()}}]})
    assert not expected, f"alerts missing from {RULES}: {expected}"
    test_file = tmp_path / "alerts_test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [str(rules_copy)], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": series, "alert_rule_test": checks}]}))
    done = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_shipped_alert_rules_are_valid(promtool: str) -> None:
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "4 rules found" in done.stdout, done.stdout + done.stderr
