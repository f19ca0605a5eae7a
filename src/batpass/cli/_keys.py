"""``batpass keys rotate``: a node's signing key or TLS certificate, replaced while old
signatures stay verifiable (docs/keys.md)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from batpass.core.errors import ConfigurationError, InvalidInput
from batpass.core.settings import load_settings

__all__ = ["app"]

app = typer.Typer(help="The node's signing keys and TLS certificate.")

err_console = Console(stderr=True)
out_console = Console()

ALGS = ("Ed25519", "ES256")


@app.command("rotate")
def rotate(
    node: Annotated[str, typer.Option("--node", help="the node to act on ($BATPASS_HOME/NAME)")],
    signing: Annotated[bool, typer.Option("--signing", help="rotate the signing key (the default)")] = False,
    tls: Annotated[bool, typer.Option("--tls", help="rotate the TLS certificate (from the federation CA)")] = False,
    alg: Annotated[str, typer.Option("--alg", help="which signing key: Ed25519 (default) or ES256")] = "Ed25519",
) -> None:
    """Replace the node's signing key (--signing, the default) or its TLS certificate (--tls).

    Signing: a new key becomes the active one and the old one stays in the DID document, retired
    (``expires``), so everything signed before verifies as before; a serving node signs with the
    new key from its next signature on, without a restart. TLS: a new certificate from the
    federation CA for the same host names; the node presents it once restarted. Prints what it
    did as JSON."""
    from batpass.node.local import ca_folder, open_node
    from batpass.trust import load_ca, rotate_key, rotate_node_certificate

    if signing and tls:
        raise InvalidInput("give --signing or --tls, not both", field="--tls", rule="one key per rotation")
    if alg not in ALGS:
        raise InvalidInput(f"--alg {alg!r} is not Ed25519 or ES256", field="--alg", rule="Ed25519 or ES256")
    settings = load_settings()
    local = open_node(node, settings=settings)
    if tls:
        rotated = rotate_node_certificate(load_ca(ca_folder(settings)), local.paths.tls)
        out_console.print_json(
            json.dumps(
                {
                    "node": node,
                    "rotated": "tls",
                    "serial": f"{rotated.serial:x}",
                    "notAfter": rotated.not_after.isoformat(),
                    "hosts": list(rotated.hosts),
                    "previousSerial": f"{rotated.previous_serial:x}",
                    "previousCertificate": str(rotated.previous),
                }
            )
        )
        err_console.print(
            f"node {node}: new TLS certificate {rotated.serial:x}; restart the node to present it "
            "(partners trust the federation CA, so they accept it as they did the old one)",
            highlight=False,
            soft_wrap=True,
        )
        return
    if not (local.paths.keys / "keys.json").exists():
        raise ConfigurationError(f"node {node} has no key folder ({local.paths.keys})", rule="run 'batpass init'")
    identity = local.identity
    old = identity.active(alg)
    new = rotate_key(local.paths.keys, identity, alg)
    retired = next(k for k in identity.keys if k.kid == old.kid)
    out_console.print_json(
        json.dumps(
            {
                "node": node,
                "rotated": "signing",
                "alg": alg,
                "kid": identity.key_id(new),
                "retired": identity.key_id(retired),
                "retiredAt": retired.retired_at.isoformat() if retired.retired_at else None,
            }
        )
    )
    err_console.print(
        f"node {node}: {alg} key {new.kid} is active; {old.kid} is retired (it stays in the DID document, "
        "so signatures made before verify)",
        highlight=False,
        soft_wrap=True,
    )
