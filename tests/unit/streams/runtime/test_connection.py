"""Both Kafka clients' connection settings (kafka-python for the tools, aiokafka under Faust for
the workers) come from the same FRAUD_* settings: SASL mechanism, TLS, client certificate."""

from __future__ import annotations

from pathlib import Path

import pytest
from faust.types.auth import AuthProtocol, SASLMechanism
from pydantic import ValidationError

from streams.broker.connection import kafka_python_config
from streams.broker.tls import make_broker_tls
from streams.core.settings import KafkaSettings
from streams.runtime.connection import faust_credentials

LOGIN = {"sasl_username": "alpha", "sasl_password": "s3cret"}


def test_sasl_is_scram_sha_512_unless_set_otherwise() -> None:
    """SASL_SSL without a mechanism is SCRAM-SHA-512 for both clients, never PLAIN."""
    settings = KafkaSettings(security_protocol="SASL_SSL", **LOGIN)
    config = kafka_python_config(settings)
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("alpha", "s3cret")
    credentials = faust_credentials(settings)
    assert credentials is not None
    assert credentials.mechanism is SASLMechanism.SCRAM_SHA_512  # type: ignore[union-attr]
    assert credentials.protocol is AuthProtocol.SASL_SSL


def test_plain_only_when_asked_for() -> None:
    """PLAIN, which sends the password itself, is used only when set explicitly."""
    settings = KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN", **LOGIN)
    assert kafka_python_config(settings)["sasl_mechanism"] == "PLAIN"
    assert faust_credentials(settings).mechanism is SASLMechanism.PLAIN  # type: ignore[union-attr]


@pytest.mark.parametrize("missing", ["sasl_username", "sasl_password"])
def test_sasl_without_a_user_or_password_is_refused(missing: str) -> None:
    """A SASL protocol without its user name or password is a configuration error naming it."""
    login = {k: v for k, v in LOGIN.items() if k != missing}
    with pytest.raises(ValidationError, match=f"{missing}\n.*required with"):
        KafkaSettings(security_protocol="SASL_PLAINTEXT", **login)


def test_a_client_certificate_reaches_both_clients(tmp_path: Path) -> None:
    """FRAUD_SSL_CERTFILE and FRAUD_SSL_KEYFILE go to kafka-python and into Faust's TLS
    context (which loads them: a broken file fails here, not at the first connection)."""
    tls = make_broker_tls(tmp_path / "tls")
    settings = KafkaSettings(
        security_protocol="SSL", ssl_cafile=tls.ca_file, ssl_certfile=tls.keystore_file
    )
    config = kafka_python_config(settings)
    assert config["ssl_certfile"] == str(tls.keystore_file)
    assert config["ssl_cafile"] == str(tls.ca_file)
    assert "ssl_keyfile" not in config  # the keystore file holds the key
    assert faust_credentials(settings) is not None
    broken = settings.model_copy(update={"ssl_certfile": tls.ca_file})  # no key in it
    with pytest.raises(OSError, match="PEM"):
        faust_credentials(broken)


def test_a_separate_key_file_is_passed_on(tmp_path: Path) -> None:
    """A key in its own file goes to kafka-python as ssl_keyfile."""
    settings = KafkaSettings(
        security_protocol="SASL_SSL",
        ssl_certfile=tmp_path / "client.pem",
        ssl_keyfile=tmp_path / "client.key",
        **LOGIN,
    )
    assert kafka_python_config(settings)["ssl_keyfile"] == str(tmp_path / "client.key")


@pytest.mark.parametrize("field", ["ssl_cafile", "ssl_certfile"])
@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_tls_files_without_tls_are_refused(field: str, protocol: str, tmp_path: Path) -> None:
    """A CA or client certificate with a protocol that does not use TLS is an error, not a
    silently unencrypted connection."""
    with pytest.raises(ValidationError, match="only used with FRAUD_SECURITY_PROTOCOL=SSL"):
        KafkaSettings(security_protocol=protocol, **{field: tmp_path / "x.pem"}, **LOGIN)


def test_a_key_without_a_certificate_is_refused(tmp_path: Path) -> None:
    """FRAUD_SSL_KEYFILE alone says nothing the client could use."""
    with pytest.raises(ValidationError, match="without FRAUD_SSL_CERTFILE"):
        KafkaSettings(security_protocol="SSL", ssl_keyfile=tmp_path / "client.key")
