"""A node's TLS certificate rotated (``rotate_node_certificate``, behind ``batpass keys rotate
--tls``): a new key and certificate from the federation CA for the same host names, which a
client trusting only the CA accepts; the old certificate kept by serial, its key gone."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography import x509

from batpass.core.errors import ConfigurationError
from batpass.trust import init_ca, issue_node_certificate, rotate_node_certificate


def _names(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))}


def test_a_rotated_certificate_has_the_same_names_a_new_key_and_chains_to_the_ca(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca")
    tls = tmp_path / "node" / "tls"
    issue_node_certificate(ca, tls, hosts=["cells.example", "localhost", "127.0.0.1"])
    old_cert = x509.load_pem_x509_certificate((tls / "cert.pem").read_bytes())
    old_key = (tls / "key.pem").read_bytes()

    rotated = rotate_node_certificate(ca, tls)

    new_cert = x509.load_pem_x509_certificate((tls / "cert.pem").read_bytes())
    assert rotated.serial == new_cert.serial_number != old_cert.serial_number == rotated.previous_serial
    assert rotated.hosts[0] == "cells.example" and _names(new_cert) == _names(old_cert)
    assert (tls / "key.pem").read_bytes() != old_key and (tls / "key.pem").stat().st_mode & 0o077 == 0
    kept = x509.load_pem_x509_certificate(rotated.previous.read_bytes())
    assert kept.serial_number == old_cert.serial_number and rotated.previous.parent == tls / "retired"
    new_cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert_path.read_bytes()))
    # the pair loads as a server's (key matches certificate), as uvicorn loads it at start
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(tls / "cert.pem", tls / "key.pem")
    assert sorted(p.name for p in tls.iterdir()) == ["cert.pem", "key.pem", "retired"]


def test_a_node_without_a_certificate_has_nothing_to_rotate(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca")
    with pytest.raises(ConfigurationError, match="no TLS certificate"):
        rotate_node_certificate(ca, tmp_path / "tls")
