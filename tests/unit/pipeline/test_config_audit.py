"""Configuration changes are audited once, by name, with secrets as digests."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic import SecretStr

from governance.audit import AuditLog
from ingest.settings import KafkaSettings
from pipeline.config_audit import audit_config
from pipeline.settings import FactorySettings


def settings(home: Path, **changes: object) -> FactorySettings:
    return FactorySettings(home=home, kafka=KafkaSettings(bootstrap_servers="kafka-1:9092"), **changes)


def test_a_change_is_audited_once_naming_what_changed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    audit = AuditLog(home / "governance" / "audit.jsonl", key=b"k" * 32, anchor=tmp_path / "anchor.json")
    quotas = tmp_path / "quotas.yaml"
    quotas.write_text("tenants: {}\n")
    first = audit_config(settings(home, quotas=quotas), audit, "aifactory run")
    assert first["stage_timeout_s"] == {"from": "", "to": "600.0"}  # the first start records everything
    assert audit_config(settings(home, quotas=quotas), audit, "aifactory run") == {}  # nothing new: no entry
    quotas.write_text("tenants: {acme: {queries_per_second: 1}}\n")
    changed = audit_config(settings(home, quotas=quotas, stage_timeout_s=30,
                                    qdrant_api_key=SecretStr("s3cr3t-key")), audit, "aifactory serve")
    assert set(changed) == {"file:quotas", "stage_timeout_s", "qdrant_api_key"}
    entries = list(audit.entries())
    assert [(e["action"], e["details"]["service"], e["details"]["first"]) for e in entries] == [
        ("config.changed", "aifactory run", True), ("config.changed", "aifactory serve", False)]
    text = (home / "governance" / "audit.jsonl").read_text()
    assert "s3cr3t-key" not in text and changed["qdrant_api_key"]["to"].startswith("sha256:")
    assert audit.verify().ok


def test_an_embedded_brokers_new_port_is_no_change(tmp_path: Path) -> None:
    home = tmp_path / "home"
    audit = AuditLog(home / "governance" / "audit.jsonl", key=b"k" * 32, anchor=tmp_path / "anchor.json")
    embedded = FactorySettings(home=home)
    assert embedded.kafka.embedded
    audit_config(embedded, audit, "aifactory run")
    assert audit_config(FactorySettings(home=home, writer_wait=False), audit, "aifactory run") == {}


def test_each_host_is_compared_with_its_own_last_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers on two hosts, each with its own compute region, sharing one home: neither
    start is a change once each host has been seen."""
    home = tmp_path / "home"
    audit = AuditLog(home / "governance" / "audit.jsonl", key=b"k" * 32, anchor=tmp_path / "anchor.json")
    for host, region in (("gpu-eu-1", "eu-central"), ("gpu-us-1", "us-east")) * 2:
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        audit_config(settings(home, compute_region=region), audit, "aifactory worker")
    assert [(e["details"]["host"], e["details"]["first"]) for e in audit.entries()] == [
        ("gpu-eu-1", True), ("gpu-us-1", True)]
