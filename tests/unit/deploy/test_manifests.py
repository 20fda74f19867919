"""The Kubernetes manifests under deploy/k8s, checked offline: valid against the API
schemas of Kubernetes 1.30 (kubernetes-validate bundles them), every container sized,
every command one the CLI accepts, every setting one the code reads and, together, a
configuration the settings accept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from aifactory.cli import parser
from aifactory.serve import ApiSettings
from governance.residency import DEFAULT_POLICY
from ingest.lake_store import STORE_VARIABLES, parse_region_urls
from ingest.limits import Limits
from ingest.settings import KafkaSettings
from pipeline.settings import PROJECT_ROOT, FactorySettings
from transforms.settings import TransformSettings

MANIFESTS = sorted((PROJECT_ROOT / "deploy" / "k8s").glob("*.yaml"))
KUBERNETES = "1.30"


def documents() -> list[dict[str, Any]]:
    return [d for path in MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d]


def containers() -> list[dict[str, Any]]:
    return [c for d in documents() if d["kind"] == "Deployment" for c in d["spec"]["template"]["spec"]["containers"]]


def config() -> dict[str, str]:
    [found] = [d["data"] for d in documents()
               if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "aifactory-config"]
    return dict(found)


def variables(cls: Any, prefix: str) -> set[str]:
    """The environment variables a settings class reads."""
    names = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def test_there_are_manifests_for_the_factory_and_dagster() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents()}
    assert {("Deployment", n) for n in ("aifactory-transform", "aifactory-land", "aifactory-index", "aifactory-api",
                                         "dagster-webserver", "dagster-daemon")} <= kinds


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_document_is_valid_kubernetes(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_every_container_asks_for_and_is_limited_to_cpu_and_memory() -> None:
    for c in containers():
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][bound]), c["name"]


def test_every_factory_command_is_one_the_cli_accepts() -> None:
    commands = [c["args"] for c in containers() if c["args"][0] == "aifactory"]
    assert len(commands) == 4
    for args in commands:
        parser().parse_args(args[1:])  # exits 2 on a command or argument the CLI does not have


def test_every_setting_is_one_the_code_reads_and_together_they_are_accepted(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    known = (variables(KafkaSettings, "") | variables(FactorySettings, "AIFACTORY_")
             | variables(TransformSettings, "AIFACTORY_") | variables(ApiSettings, "AIFACTORY_API_")
             | variables(Limits, "AIFACTORY_LIMIT_"))
    settings = config()
    assert set(settings) - STORE_VARIABLES <= known, set(settings) - known
    ca = tmp_path / "ca.pem"
    ca.write_text("mounted from a secret in the cluster\n")
    for key, value in {**settings, "KAFKA_SSL_CAFILE": str(ca), "KAFKA_SASL_PASSWORD": "from-the-secret"}.items():
        monkeypatch.setenv(key, value)
    s = FactorySettings()
    assert s.kafka.security_protocol == "SASL_SSL" and s.kafka.topic_replication == 3 and s.qdrant_server
    assert set(parse_region_urls(s.lake_region_urls)) >= set(DEFAULT_POLICY.regions)  # else refused at start
    assert ApiSettings().host == "0.0.0.0"


def test_dagster_pods_set_every_variable_the_instance_config_reads() -> None:
    wanted = set(re.findall(r"\{env: (\w+)\}", (PROJECT_ROOT / "deploy" / "dagster.yaml").read_text()))
    for c in containers():
        if c["args"][0].startswith("dagster"):
            assert wanted <= {e["name"] for e in c["env"]}, c["name"]
