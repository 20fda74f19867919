"""Kafka security settings: one TLS context and one set of SASL credentials for
kafka-python and faust, and a clear error for each inconsistent combination."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import faust
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from ingest.errors import BrokerError
from ingest.security import client_options, faust_credentials, tls_context
from ingest.settings import KafkaSettings

CLUSTER = "broker-1.example:9093"


def pem_pair(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def settings(**values: object) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=CLUSTER, **values)  # type: ignore[arg-type]


def test_plaintext_is_the_default_and_carries_no_tls() -> None:
    s = settings()
    assert client_options(s) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(s) is None


def test_tls_with_a_client_certificate_reaches_both_clients(tmp_path: Path) -> None:
    ca, _ = pem_pair(tmp_path, "ca")
    cert, key = pem_pair(tmp_path, "client")
    s = settings(security_protocol="SSL", ssl_cafile=ca, ssl_certfile=cert, ssl_keyfile=key)
    options = client_options(s)
    assert options["security_protocol"] == "SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext) and options["ssl_context"].check_hostname
    credentials = faust_credentials(s)
    assert isinstance(credentials, faust.SSLCredentials) and credentials.context is not None


def test_scram_over_tls_reaches_both_clients(tmp_path: Path) -> None:
    ca, _ = pem_pair(tmp_path, "ca")
    s = settings(security_protocol="SASL_SSL", ssl_cafile=ca, sasl_mechanism="SCRAM-SHA-512",
                 sasl_username="factory", sasl_password="s3cret")
    options = client_options(s)
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == \
        ("SCRAM-SHA-512", "factory", "s3cret")
    credentials = faust_credentials(s)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value, credentials.username) == \
        ("SASL_SSL", "SCRAM-SHA-512", "factory")
    assert "s3cret" not in repr(s)  # the password is a secret in logs and reprs


def test_sasl_plaintext_has_no_tls_context() -> None:
    s = settings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p")
    assert "ssl_context" not in client_options(s)
    assert faust_credentials(s).protocol.value == "SASL_PLAINTEXT"


@pytest.mark.parametrize(("values", "message"), [
    ({"security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_MECHANISM"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"}, "KAFKA_SASL_PASSWORD"),
    ({"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p"}, "set it to SASL_SSL"),
    ({"security_protocol": "TLS"}, "SASL_SSL"),
    ({"ssl_cafile": "/nowhere/ca.pem", "security_protocol": "SSL"}, "does not point to a file"),
    ({"replication_factor": 2, "min_insync_replicas": 3}, "no write could succeed"),
])
def test_inconsistent_settings_name_the_variable_to_fix(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**values)


def test_tls_files_need_a_tls_protocol(tmp_path: Path) -> None:
    ca, _ = pem_pair(tmp_path, "ca")
    with pytest.raises(ValidationError, match="KAFKA_SSL_CAFILE set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"):
        settings(ssl_cafile=ca)


def test_security_settings_without_a_cluster_are_refused() -> None:
    with pytest.raises(ValidationError, match="set KAFKA_BOOTSTRAP_SERVERS too"):
        KafkaSettings(security_protocol="SSL")


def test_a_file_that_is_not_pem_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(BrokerError, match="KAFKA_SSL_CAFILE"):
        tls_context(settings(security_protocol="SSL", ssl_cafile=bogus))


def test_replication_is_the_clusters_default_unless_set() -> None:
    assert settings().topic_replication == -1
    assert settings(replication_factor=3).topic_replication == 3
    assert KafkaSettings().topic_replication == 1  # the embedded broker is one node
