"""Kafka connection settings as kafka-python wants them (the synchronous tools' clients).

Built from the same :class:`~streams.core.settings.KafkaSettings` fields as Faust's
(:mod:`streams.runtime.connection`), so TLS and SASL are configured once.
"""

from __future__ import annotations

from typing import Any

from streams.core.settings import KafkaSettings

__all__ = ["kafka_python_config"]


def kafka_python_config(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients (producer, consumer, admin)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
        # How long a client waits for its first connection: a broker that is down is reported
        # in seconds, not after kafka-python's 30 s default.
        "bootstrap_timeout_ms": int(settings.connect_timeout_s * 1000),
    }
    # The settings refuse TLS files with a protocol that does not use TLS.
    if settings.ssl_cafile:
        config["ssl_cafile"] = str(settings.ssl_cafile)
    if settings.ssl_certfile:  # mutual TLS: the client's own certificate
        config["ssl_certfile"] = str(settings.ssl_certfile)
        if settings.ssl_keyfile:
            config["ssl_keyfile"] = str(settings.ssl_keyfile)
    if settings.security_protocol.startswith("SASL"):
        # kafka-python names the user and password "plain" for every mechanism, SCRAM included.
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return config
