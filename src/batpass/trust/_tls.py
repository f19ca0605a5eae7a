"""The federation certificate authority and node certificates.

Nodes speak HTTPS to each other, on loopback too, with certificates issued by a per-federation
CA (``batpass ca init``; the demo and the test harness make one per run). Clients trust only that
CA. Keys are written mode 600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from batpass.core.clock import utc_now
from batpass.core.errors import ConfigurationError
from batpass.trust._keys import write_private_pem

__all__ = [
    "FederationCA",
    "RotatedCertificate",
    "client_ssl_context",
    "init_ca",
    "issue_node_certificate",
    "load_ca",
    "rotate_node_certificate",
]


@dataclass(frozen=True)
class FederationCA:
    cert_path: Path
    key_path: Path

    def load(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"{self.key_path} is not an EC private key")
        return cert, key


def init_ca(folder: Path, *, name: str = "batpass federation CA", days: int = 3650) -> FederationCA:
    """Create a CA in ``folder`` (``ca.pem``, ``ca-key.pem``) unless one exists there."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = FederationCA(folder / "ca.pem", folder / "ca-key.pem")
    if ca.cert_path.exists() and ca.key_path.exists():
        return ca
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "batpass")]
    )
    now = utc_now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private_pem(ca.key_path, key)
    ca.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ca


def load_ca(folder: Path) -> FederationCA:
    ca = FederationCA(folder / "ca.pem", folder / "ca-key.pem")
    if not ca.cert_path.exists():
        raise ConfigurationError(
            f"no federation CA in {folder}", rule="run 'batpass ca init' first (or let 'batpass init' create it)"
        )
    return ca


def issue_node_certificate(ca: FederationCA, out_dir: Path, *, hosts: list[str], days: int = 825) -> tuple[Path, Path]:
    """Issue a server+client certificate for a node's host names and IPs; returns (cert, key)."""
    ca_cert, ca_key = ca.load()
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    now = utc_now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    key_path = out_dir / "key.pem"
    cert_path = out_dir / "cert.pem"
    write_private_pem(key_path, key)
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    return cert_path, key_path


@dataclass(frozen=True)
class RotatedCertificate:
    """What :func:`rotate_node_certificate` did: the new certificate's serial, validity and host
    names, and where the old one was kept."""

    serial: int
    not_after: dt.datetime
    hosts: tuple[str, ...]
    previous_serial: int
    previous: Path


def _cert_hosts(cert: x509.Certificate) -> list[str]:
    """The host names and IPs of a certificate, its common name (the node's host) first."""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = [*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    first = str(cn[0].value) if cn else names[0]
    return [first, *(n for n in names if n != first)]


def rotate_node_certificate(ca: FederationCA, tls_dir: Path, *, days: int = 825) -> RotatedCertificate:
    """Replace a node's TLS certificate and key (``cert.pem``, ``key.pem`` in ``tls_dir``) with a
    new pair from the federation CA for the same host names.

    Clients trust the federation CA, not one certificate, so they accept the new one as they did
    the old; the old certificate (public part) is kept in ``tls_dir/retired/`` under its serial,
    so what was signed or logged under it can still be matched to it; its private key is deleted.
    The new pair is written beside the old one and renamed into place (a node starting meanwhile
    reads one pair or the other). A serving node presents the new certificate once restarted.
    """
    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    if not cert_path.exists():
        raise ConfigurationError(
            f"no TLS certificate in {tls_dir}", rule="a node serving plain HTTP has no certificate to rotate"
        )
    old = x509.load_pem_x509_certificate(cert_path.read_bytes())
    hosts = _cert_hosts(old)
    staging = tls_dir / ".rotating"
    shutil.rmtree(staging, ignore_errors=True)
    new_cert, new_key = issue_node_certificate(ca, staging, hosts=hosts, days=days)
    retired = tls_dir / "retired"
    retired.mkdir(exist_ok=True)
    kept = retired / f"cert-{old.serial_number:x}.pem"
    shutil.copyfile(cert_path, kept)
    os.replace(new_key, key_path)
    os.replace(new_cert, cert_path)
    staging.rmdir()
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return RotatedCertificate(
        serial=cert.serial_number,
        not_after=cert.not_valid_after_utc,
        hosts=tuple(hosts),
        previous_serial=old.serial_number,
        previous=kept,
    )


def client_ssl_context(ca_cert: Path) -> ssl.SSLContext:
    """One verifying context per process (building one per client costs about 20 ms)."""
    ctx = ssl.create_default_context(cafile=str(ca_cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx
