"""Kafka connection settings as kafka-python wants them (the synchronous tools' clients).

Built from the same :class:`~streams.core.settings.KafkaSettings` fields as Faust's
(:mod:`streams.runtime.connection`), so TLS and SASL are configured once.
"""

from __future__ import annotations

from typing import Any, TypeVar

from streams.core.settings import KafkaSettings

__all__ = ["PATIENT_CONNECT_TIMEOUT_S", "kafka_python_config", "patient"]

_K = TypeVar("_K", bound=KafkaSettings)

#: Seconds a patient client waits at least to reach the broker (kafka-python's own default): a
#: worker's, whose broker may still be starting or be restarting, and the bench's own, whose
#: broker runs at a low priority and was just continued after a pause (on a busy machine, a
#: test suite beside it, that broker can take longer than 3 s to answer a new client).
PATIENT_CONNECT_TIMEOUT_S = 30.0


def patient(settings: _K) -> _K:
    """``settings`` with a connect timeout of at least :data:`PATIENT_CONNECT_TIMEOUT_S`."""
    timeout = max(settings.connect_timeout_s, PATIENT_CONNECT_TIMEOUT_S)
    return settings.model_copy(update={"connect_timeout_s": timeout})


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
