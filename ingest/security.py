"""How the clients reach a secured cluster: one TLS context and one set of SASL
credentials, from `KafkaSettings`, for kafka-python (landers, producers, admin) and
faust (the transform worker) alike, so the two never disagree.
"""

from __future__ import annotations

import ssl
from typing import Any

from ingest.errors import BrokerError
from ingest.settings import KafkaSettings


def tls_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The client's TLS context (CA, client certificate), or None on a plaintext protocol."""
    if not settings.security_protocol.endswith("SSL"):
        return None
    try:
        context = ssl.create_default_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
        if settings.ssl_certfile:
            context.load_cert_chain(str(settings.ssl_certfile),
                                    str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
                                    settings.ssl_key_password.get_secret_value() or None)
    except (ssl.SSLError, OSError) as exc:
        raise BrokerError(f"cannot load the TLS files (KAFKA_SSL_CAFILE {settings.ssl_cafile}, KAFKA_SSL_CERTFILE "
                          f"{settings.ssl_certfile}, KAFKA_SSL_KEYFILE {settings.ssl_keyfile}): {exc}; they must "
                          "be PEM files, the key's password in KAFKA_SSL_KEY_PASSWORD") from exc
    context.check_hostname = settings.ssl_check_hostname
    return context


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """The keyword arguments every kafka-python client of the factory takes."""
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    context = tls_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.sasl_mechanism:
        options |= {"sasl_mechanism": settings.sasl_mechanism, "sasl_plain_username": settings.sasl_username,
                    "sasl_plain_password": settings.sasl_password.get_secret_value()}
    return options


def faust_credentials(settings: KafkaSettings) -> Any:
    """faust's `broker_credentials` for the same protocol, or None on plaintext."""
    import faust

    context = tls_context(settings)
    if settings.sasl_mechanism:
        return faust.SASLCredentials(username=settings.sasl_username,
                                     password=settings.sasl_password.get_secret_value(),
                                     mechanism=settings.sasl_mechanism, ssl_context=context)
    return faust.SSLCredentials(context) if context is not None else None


def secured(settings: KafkaSettings) -> str:
    """How the settings reach the cluster, for an error message."""
    how: str = settings.security_protocol
    if settings.sasl_mechanism:
        how += f" ({settings.sasl_mechanism} as {settings.sasl_username!r})"
    return how
