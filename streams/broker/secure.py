"""The secure local broker: its SCRAM users and their passwords, and its listeners.

``fraudstream kafka up --secure`` runs the broker with two listeners on 127.0.0.1:

- ``CLIENT`` (the client port): SASL_SSL with SCRAM-SHA-512. Every client, the broker's own
  inter-broker connections included, authenticates with a user name and password; the broker
  proves itself with its certificate (:mod:`streams.broker.tls`).
- ``CONTROLLER`` (the controller port): TLS that *requires* a client certificate signed by the
  broker's own CA, whose key was discarded: only the broker itself (``User:CN=...``, a super
  user because the controller must accept its registration and heartbeats) gets in. A plaintext
  controller listener would make every local process an anonymous super user there, since
  clients may bootstrap to a controller (KIP-919) and ``super.users`` would have to name
  ``User:ANONYMOUS``.

The users are written into the KRaft metadata when the storage is formatted (``StorageTool
format --add-scram``, KIP-900) as salted SCRAM credentials, so no password is ever on a command
line; a user added later (a new partner) is upserted through the admin client. Their passwords
are in ``credentials.json`` in the state folder (0600), shown only by ``fraudstream kafka env``.
The admin is the only user in ``super.users`` besides the broker's certificate; the broker logs
in as the admin on its own inter-broker listener, so ``server.properties`` holds that password
too (0600). No role runs as the admin: the roles get the ACLs of :mod:`streams.core.access`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.broker.tls import BrokerTls, make_broker_tls
from streams.core.access import Principals
from streams.core.errors import BrokerError

__all__ = ["SCRAM_MECHANISM", "SecureSetup", "add_users", "scram_credential"]

#: The one SASL mechanism of the secure broker.
SCRAM_MECHANISM = "SCRAM-SHA-512"
_ITERATIONS = 8192  # Kafka accepts 4096..16384 for SCRAM-SHA-512
_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
_SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"


def scram_credential(user: str, password: str, salt: bytes | None = None) -> str:
    """The ``--add-scram`` argument that stores ``user``'s salted password (not the password)."""
    salt = salt if salt is not None else secrets.token_bytes(24)
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS)
    encoded_salt = base64.b64encode(salt).decode()
    encoded = base64.b64encode(salted).decode()
    return (
        f'{SCRAM_MECHANISM}=[name={user},iterations={_ITERATIONS},salt="{encoded_salt}",'
        f'saltedpassword="{encoded}"]'
    )


@dataclass(frozen=True)
class SecureSetup:
    """The secure broker's files in its state folder: certificates, credentials."""

    state_dir: Path
    admin: str = Principals().admin

    @property
    def tls(self) -> BrokerTls:
        """The broker's CA and certificate."""
        return BrokerTls(self.state_dir / "tls")

    @property
    def credentials_file(self) -> Path:
        """Every user's password (JSON, 0600)."""
        return self.state_dir / "credentials.json"

    def exists(self) -> bool:
        """True when this state folder holds a secure broker's credentials."""
        return self.credentials_file.is_file()

    def check_mode(self, secure: bool) -> None:
        """Refuse to start a formatted state folder's broker in the other mode."""
        formatted = (self.state_dir / "data" / "meta.properties").is_file()
        if formatted and self.exists() != secure:
            mode, flag = ("a secure", "with") if self.exists() else ("a plaintext", "without")
            msg = (
                f"{self.state_dir} holds {mode} broker: start it {flag} --secure, or use "
                "another --state-dir"
            )
            raise BrokerError(msg)

    def passwords(self) -> dict[str, str]:
        """Every user's password; a :class:`BrokerError` when there is no secure broker here."""
        try:
            found: dict[str, str] = json.loads(self.credentials_file.read_text())
        except FileNotFoundError:
            msg = (
                f"no secure broker in {self.state_dir} ({self.credentials_file.name} is missing): "
                "start one with `fraudstream kafka up --secure`"
            )
            raise BrokerError(msg) from None
        return found

    def prepare(self, users: Iterable[str]) -> list[str]:
        """Make the certificates and a password for each user who has none (the admin always);
        return the users that are new."""
        make_broker_tls(self.tls.directory)
        known = self.passwords() if self.exists() else {}
        new = [u for u in dict.fromkeys([self.admin, *users]) if u not in known]
        if new:
            known |= {user: secrets.token_urlsafe(24) for user in new}
            self.credentials_file.unlink(missing_ok=True)
            descriptor = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                json.dump(known, handle, indent=2)
        return new

    def format_arguments(self) -> list[str]:
        """``StorageTool format`` arguments that create every user."""
        arguments: list[str] = []
        for user, password in self.passwords().items():
            arguments += ["--add-scram", scram_credential(user, password)]
        return arguments

    def properties(self, port: int, controller_port: int) -> dict[str, str]:
        """The ``server.properties`` entries of the secure listeners and the authorizer."""
        admin_password = self.passwords()[self.admin]
        jaas = f'{_SCRAM_LOGIN} required username="{self.admin}" password="{admin_password}";'
        return {
            "listeners": f"CLIENT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{port}",
            "inter.broker.listener.name": "CLIENT",
            "listener.security.protocol.map": "CLIENT:SASL_SSL,CONTROLLER:SSL",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            # The broker's own client login on its inter-broker listener (as the admin).
            f"listener.name.client.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls.keystore_file),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca_file),
            "listener.name.controller.ssl.client.auth": "required",
            "authorizer.class.name": _AUTHORIZER,
            "super.users": f"User:{self.admin};{self.tls.principal}",
            "allow.everyone.if.no.acl.found": "false",
        }

    def client_config(self, bootstrap: str, user: str) -> dict[str, Any]:
        """kafka-python keyword arguments to connect as ``user``."""
        password = self._password(user)
        return {
            "bootstrap_servers": bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": password,
            "ssl_cafile": str(self.tls.ca_file),
        }

    def client_env(self, bootstrap: str, user: str) -> dict[str, str]:
        """The ``FRAUD_*`` variables that make a worker or tool connect as ``user``."""
        return {
            "FRAUD_BROKER": bootstrap,
            "FRAUD_SECURITY_PROTOCOL": "SASL_SSL",
            "FRAUD_SASL_MECHANISM": SCRAM_MECHANISM,
            "FRAUD_SASL_USERNAME": user,
            "FRAUD_SASL_PASSWORD": self._password(user),
            "FRAUD_SSL_CAFILE": str(self.tls.ca_file),
        }

    def _password(self, user: str) -> str:
        passwords = self.passwords()
        if user not in passwords:
            msg = (
                f"the broker in {self.state_dir} has no user {user!r} (users: "
                f"{', '.join(passwords)}); add a partner with `fraudstream kafka up --secure "
                "--partners ...`"
            )
            raise BrokerError(msg)
        return passwords[user]


def add_users(admin_config: Mapping[str, Any], passwords: Mapping[str, str]) -> None:
    """Create (or reset) SCRAM users on a running broker, as the admin."""
    from kafka.admin import (  # noqa: PLC0415  (kept out of import time)
        KafkaAdminClient,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )
    from kafka.errors import KafkaError  # noqa: PLC0415

    upserts = [
        UserScramCredentialUpsertion(
            user, ScramMechanism.SCRAM_SHA_512, password, iterations=_ITERATIONS
        )
        for user, password in passwords.items()
    ]
    try:
        admin = KafkaAdminClient(**admin_config, client_id="fraudstream-users")
        try:
            errors = admin.alter_user_scram_credentials(upserts)
        finally:
            admin.close()
    except KafkaError as exc:
        msg = f"could not add the users {sorted(passwords)}: {exc}"
        raise BrokerError(msg) from exc
    failed = {user: error for user, error in errors.items() if error}
    if failed:
        msg = f"the broker refused these users: {failed}"
        raise BrokerError(msg)
