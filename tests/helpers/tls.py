"""Throwaway TLS material for HTTPS tests on loopback (the central server and its sync agents).

:func:`make_test_pki` writes PEM files into a folder: a CA, a server certificate it signed for
``127.0.0.1`` and ``localhost`` (subjectAltName IP and DNS) with its key, and a second, unrelated
CA, so a test can show that a client trusting only that other CA refuses the server. The
``test_pki`` fixture (registered for every test by tests/conftest.py) makes one set per session.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_HOSTS = ("127.0.0.1", "localhost")
VALIDITY = dt.timedelta(days=30)


@dataclass(frozen=True)
class TestPki:
    """Paths of the PEM files :func:`make_test_pki` wrote."""

    __test__ = False  # not a test class, despite the name

    ca_cert: Path  # the CA clients should trust
    server_cert: Path  # for 127.0.0.1 and localhost, signed by ca_cert
    server_key: Path  # the server certificate's private key (unencrypted, mode 0600)
    other_ca_cert: Path  # an unrelated CA: trusting only it must refuse the server
    ca_key: Path  # ca_cert's private key, to issue further certificates if a test needs them


@dataclass(frozen=True)
class _Issuer:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey


def make_test_pki(folder: Path) -> TestPki:
    """Write a fresh CA, a loopback server certificate and an unrelated CA into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_cert = _make_ca("ClinicDesk Test CA")
    _, other_ca_cert = _make_ca("Unrelated Test CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _make_server_cert(ca, server_key)
    pki = TestPki(
        ca_cert=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server-key.pem",
        other_ca_cert=folder / "other-ca.pem",
        ca_key=folder / "ca-key.pem",
    )
    _write_cert(pki.ca_cert, ca_cert)
    _write_cert(pki.server_cert, server_cert)
    _write_cert(pki.other_ca_cert, other_ca_cert)
    _write_key(pki.server_key, server_key)
    _write_key(pki.ca_key, ca.key)
    return pki


def _make_ca(common_name: str) -> tuple[_Issuer, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    usage = _key_usage(digital_signature=False, key_cert_sign=True, crl_sign=True)
    builder = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return _Issuer(name, key), builder.sign(key, hashes.SHA256())


def _make_server_cert(ca: _Issuer, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_HOSTS[0])])
    names = [
        x509.IPAddress(ipaddress.ip_address(SERVER_HOSTS[0])),
        x509.DNSName(SERVER_HOSTS[1]),
    ]
    ca_key_id = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key())
    builder = (
        _builder(subject, ca.name, key.public_key())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ca_key_id, critical=False)  # Python 3.13's strict mode requires it
    )
    return builder.sign(ca.key, hashes.SHA256())


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))  # tolerate a little clock skew
        .not_valid_after(now + VALIDITY)
    )


def _key_usage(
    *, digital_signature: bool, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.touch(mode=0o600)
    path.write_bytes(pem)


@pytest.fixture(scope="session", name="test_pki")
def _test_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """One throwaway CA, loopback server certificate and unrelated CA for the whole session."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))
