"""Kafka connection settings, turned into what each client library expects.

Faust (aiokafka) takes ``broker_credentials``; kafka-python takes keyword arguments. Both are built
from the same :class:`~streams.core.settings.Settings` fields so TLS and SASL are configured once.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust

from streams.core.settings import Settings

__all__ = ["faust_broker_url", "faust_credentials", "kafka_python_config"]


def faust_broker_url(settings: Settings) -> str:
    """``kafka://host1:port;host2:port`` from ``FRAUD_BROKER``."""
    return ";".join(f"kafka://{server}" for server in settings.bootstrap_servers)


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    cafile = str(settings.ssl_cafile) if settings.ssl_cafile else None
    return ssl.create_default_context(cafile=cafile)


def faust_credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The credentials object Faust wants for the configured security protocol."""
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(_ssl_context(settings))
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=password,
        mechanism=settings.sasl_mechanism or "PLAIN",
        ssl_context=_ssl_context(settings) if protocol == "SASL_SSL" else None,
    )


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients (producer, consumer, admin)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL") and settings.ssl_cafile:
        config["ssl_cafile"] = str(settings.ssl_cafile)
    if settings.security_protocol.startswith("SASL"):
        config["sasl_mechanism"] = settings.sasl_mechanism or "PLAIN"
        config["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return config
