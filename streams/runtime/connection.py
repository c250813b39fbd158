"""Kafka connection settings as Faust (aiokafka) wants them: a broker URL and credentials.

kafka-python's keyword arguments come from the same :class:`~streams.core.settings.KafkaSettings`
fields (:func:`streams.broker.connection.kafka_python_config`), so TLS and SASL are configured
once.
"""

from __future__ import annotations

import ssl

import faust

from streams.core.settings import KafkaSettings

__all__ = ["faust_broker_url", "faust_credentials", "ssl_context"]


def faust_broker_url(settings: KafkaSettings) -> str:
    """``kafka://host1:port;host2:port`` from ``FRAUD_BROKER``."""
    return ";".join(f"kafka://{server}" for server in settings.bootstrap_servers)


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    """The TLS context of the SSL protocols: the broker verified against ``FRAUD_SSL_CAFILE``
    (the system CAs when unset) and its host name, and the client's certificate when
    ``FRAUD_SSL_CERTFILE`` is set (mutual TLS)."""
    cafile = str(settings.ssl_cafile) if settings.ssl_cafile else None
    context = ssl.create_default_context(cafile=cafile)
    if settings.ssl_certfile:
        keyfile = str(settings.ssl_keyfile) if settings.ssl_keyfile else None
        context.load_cert_chain(str(settings.ssl_certfile), keyfile)
    return context


def faust_credentials(
    settings: KafkaSettings,
) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The credentials object Faust wants for the configured security protocol (aiokafka
    speaks SCRAM-SHA-256/512 as well as PLAIN)."""
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=password,
        mechanism=settings.sasl_mechanism,
        ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
    )
