"""The secure local broker's configuration, certificates and credentials (no broker started)."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from streams.broker.local_kafka import LocalKafka
from streams.broker.secure import SecureSetup, scram_credential
from streams.broker.tls import BROKER_COMMON_NAME, make_broker_tls
from streams.cli.kafka import kafka
from streams.core.errors import BrokerError


def properties(broker: LocalKafka) -> dict[str, str]:
    return dict(line.split("=", 1) for line in broker._properties().splitlines())


@pytest.fixture
def secure_broker(tmp_path: Path) -> LocalKafka:
    """A secure broker's state folder, prepared (certificates, users) but never started."""
    broker = LocalKafka(tmp_path, port=1234, controller_port=1235, secure=True, users=("alpha",))
    broker.security.prepare(broker.users)
    return broker


def test_clients_need_sasl_over_tls_and_the_controller_a_certificate(
    secure_broker: LocalKafka,
) -> None:
    """The client port is SASL_SSL with SCRAM-SHA-512 only; the controller port is TLS that
    requires a client certificate; both on loopback."""
    props = properties(secure_broker)
    assert props["listeners"] == "CLIENT://127.0.0.1:1234,CONTROLLER://127.0.0.1:1235"
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_SSL,CONTROLLER:SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert "PLAINTEXT" not in props["listener.security.protocol.map"]


def test_only_the_admin_and_the_brokers_certificate_are_super_users(
    secure_broker: LocalKafka,
) -> None:
    """super.users names the admin and the broker's own certificate principal, never
    ANONYMOUS; requests nobody granted are refused (StandardAuthorizer, no ACL means no)."""
    props = properties(secure_broker)
    assert props["super.users"] == f"User:admin;User:CN={BROKER_COMMON_NAME}"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"


def test_a_plaintext_broker_keeps_its_configuration(tmp_path: Path) -> None:
    """Without --secure nothing of the secure set-up appears (kafka up as before)."""
    props = properties(LocalKafka(tmp_path, port=1, controller_port=2))
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert "super.users" not in props
    assert "authorizer.class.name" not in props
    assert not (tmp_path / "credentials.json").exists()


def test_passwords_are_random_private_and_kept(tmp_path: Path) -> None:
    """Each user gets a random password in a 0600 file; preparing again keeps them and adds
    only new users."""
    setup = SecureSetup(tmp_path)
    assert setup.prepare(["scorer", "alpha"]) == ["admin", "scorer", "alpha"]
    first = setup.passwords()
    assert len(set(first.values())) == 3
    assert all(len(password) >= 32 for password in first.values())
    assert stat.S_IMODE(setup.credentials_file.stat().st_mode) == 0o600
    assert setup.prepare(["scorer", "alpha", "bravo"]) == ["bravo"]
    assert setup.passwords().items() >= first.items()


def test_users_are_created_from_salted_passwords_only(tmp_path: Path) -> None:
    """The --add-scram argument carries the PBKDF2 salted password, never the password."""
    salt = b"0123456789abcdef"
    argument = scram_credential("alpha", "pa55word", salt)
    found = re.fullmatch(
        r'SCRAM-SHA-512=\[name=alpha,iterations=(\d+),salt="([^"]+)",saltedpassword="([^"]+)"\]',
        argument,
    )
    assert found is not None
    iterations, encoded_salt, salted = found.groups()
    assert base64.b64decode(encoded_salt) == salt
    expected = hashlib.pbkdf2_hmac("sha512", b"pa55word", salt, int(iterations))
    assert base64.b64decode(salted) == expected
    assert "pa55word" not in argument
    setup = SecureSetup(tmp_path)
    setup.prepare(["alpha"])
    arguments = setup.format_arguments()
    assert arguments.count("--add-scram") == 2
    assert not any(password in " ".join(arguments) for password in setup.passwords().values())


def test_the_broker_certificate_is_for_loopback_and_its_ca_key_is_gone(tmp_path: Path) -> None:
    """The broker's certificate names 127.0.0.1, serves as server and client, is signed by the
    CA; the folder holds the CA certificate and the broker's key (0600), no CA key."""
    tls = make_broker_tls(tmp_path / "tls")
    assert sorted(p.name for p in tls.directory.iterdir()) == ["broker-keystore.pem", "ca.pem"]
    assert stat.S_IMODE(tls.keystore_file.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" not in tls.ca_file.read_bytes()
    cert = x509.load_pem_x509_certificate(tls.keystore_file.read_bytes())
    ca = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usages)
    assert tls.principal == f"User:CN={BROKER_COMMON_NAME}"


def test_a_state_folder_keeps_its_mode(tmp_path: Path) -> None:
    """A formatted plaintext broker is not restarted as a secure one, nor the reverse."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "meta.properties").write_text("")
    with pytest.raises(BrokerError, match="holds a plaintext broker: start it without --secure"):
        LocalKafka(tmp_path, secure=True).start()
    SecureSetup(tmp_path).prepare([])
    with pytest.raises(BrokerError, match="holds a secure broker: start it with --secure"):
        LocalKafka(tmp_path).start()


def test_kafka_env_prints_one_users_settings(secure_broker: LocalKafka) -> None:
    """`kafka env --user alpha` prints export lines of alpha's FRAUD_* connection settings."""
    where = ["--state-dir", str(secure_broker.state_dir), "--port", "1234"]
    result = CliRunner().invoke(kafka, ["env", "--user", "alpha", *where])
    assert result.exit_code == 0, result.output
    exported = dict(
        line.removeprefix("export ").split("=", 1) for line in result.output.split("\n") if line
    )
    password = secure_broker.security.passwords()["alpha"]
    assert exported == {
        "FRAUD_BROKER": "127.0.0.1:1234",
        "FRAUD_SECURITY_PROTOCOL": "SASL_SSL",
        "FRAUD_SASL_MECHANISM": "SCRAM-SHA-512",
        "FRAUD_SASL_USERNAME": "alpha",
        "FRAUD_SASL_PASSWORD": password,
        "FRAUD_SSL_CAFILE": str(secure_broker.security.tls.ca_file),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--partners", "alpha"], "--partners names the users and ACLs of a secure broker"),
        (["env", "--user", "alpha"], "is not secure: it has no users"),
    ],
)
def test_misused_options_say_what_to_do(tmp_path: Path, args: list[str], message: str) -> None:
    """Options that only mean something for a secure broker are refused with what to do."""
    result = CliRunner().invoke(kafka, [*args, "--state-dir", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_an_unknown_user_is_named(secure_broker: LocalKafka) -> None:
    """`kafka env` for a user the broker does not have lists the ones it has."""
    where = ["--state-dir", str(secure_broker.state_dir)]
    result = CliRunner().invoke(kafka, ["env", "--user", "zulu", *where], terminal_width=200)
    assert result.exit_code == 1
    assert "has no user 'zulu' (users: admin, alpha)" in " ".join(result.output.split())
    assert secure_broker.security.passwords()["alpha"] not in result.output


def test_up_help_explains_secure() -> None:
    """`kafka up --help` says what --secure makes and where the passwords are."""
    result = CliRunner().invoke(kafka, ["up", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert "--secure" in text
    assert "SCRAM-SHA-512" in text
    assert "credentials.json" in text
    assert "fraudstream kafka env --user USER" in text
