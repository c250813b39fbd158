"""Kafka connection settings as Faust (aiokafka) wants them: a broker URL and credentials.

kafka-python's keyword arguments come from the same :class:`~streams.core.settings.KafkaSettings`
fields (:func:`streams.broker.connection.kafka_python_config`), so TLS and SASL are configured
once.
"""

from __future__ import annotations

import ssl

import faust

from streams.core.settings import KafkaSettings

__all__ = ["faust_broker_url", "faust_credentials"]


def faust_broker_url(settings: KafkaSettings) -> str:
    """``kafka://host1:port;host2:port`` from ``FRAUD_BROKER``."""
    return ";".join(f"kafka://{server}" for server in settings.bootstrap_servers)


def _ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    cafile = str(settings.ssl_cafile) if settings.ssl_cafile else None
    return ssl.create_default_context(cafile=cafile)


def faust_credentials(
    settings: KafkaSettings,
) -> faust.SASLCredentials | faust.SSLCredentials | None:
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
