"""The secure local broker's certificates, made with the ``cryptography`` package (no keytool).

A throw-away certificate authority signs one broker certificate, then its private key is
discarded: no other certificate the broker trusts can ever be made. The broker's certificate
serves both of its TLS listeners (clients check it against ``ca.pem`` and ``127.0.0.1``) and is
the broker's own identity on the KRaft controller listener, which requires a client certificate
(mutual TLS): its principal, ``User:CN=<common name>``, is the one super user that is not the
admin. Kafka reads the PEM text itself (``ssl.keystore.type=PEM``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["BROKER_COMMON_NAME", "BrokerTls", "make_broker_tls"]

#: The broker certificate's subject: Kafka's default principal for it is ``User:CN=...``.
BROKER_COMMON_NAME = "fraudstream-broker"
_VALID_DAYS = 3650  # a loopback development broker; delete the state folder to renew


@dataclass(frozen=True)
class BrokerTls:
    """Where the CA certificate, the broker's certificate and its private key are."""

    directory: Path

    @property
    def ca_file(self) -> Path:
        """The CA certificate clients verify the broker with (``FRAUD_SSL_CAFILE``)."""
        return self.directory / "ca.pem"

    @property
    def keystore_file(self) -> Path:
        """The broker's private key (PKCS#8) and certificate in one PEM file, readable by its
        owner only: Kafka's ``ssl.keystore.location`` with ``ssl.keystore.type=PEM``."""
        return self.directory / "broker-keystore.pem"

    @property
    def principal(self) -> str:
        """The broker's principal on a listener that requires client certificates."""
        return f"User:CN={BROKER_COMMON_NAME}"

    def exists(self) -> bool:
        """True when both files were made."""
        return self.ca_file.is_file() and self.keystore_file.is_file()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    subject = _name("fraudstream local broker CA")
    usage = x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


def _broker(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    # Server (clients connect to it) and client (it connects to its own controller listener).
    purposes = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    return (
        x509.CertificateBuilder()
        .subject_name(_name(BROKER_COMMON_NAME))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ca.not_valid_before_utc)
        .not_valid_after(ca.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file created with ``mode`` (never readable by others first)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def make_broker_tls(directory: Path) -> BrokerTls:
    """A new CA and broker certificate in ``directory`` (kept if all files are there)."""
    tls = BrokerTls(directory)
    if tls.exists():
        return tls
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _ca(ca_key, now)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _broker(ca, ca_key, key)
    del ca_key  # never written: nothing else can be signed by this CA
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(tls.keystore_file, key_pem + cert.public_bytes(pem), 0o600)
    _write(tls.ca_file, ca.public_bytes(pem), 0o644)
    return tls
