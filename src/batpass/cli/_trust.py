"""CLI of the trust capability: ``batpass trust add|list|sign`` (:data:`app`) and
``batpass credential issue|verify|revoke|present`` (:data:`credential_app`).

Every command acts on one node (``--node NAME``). Bad input raises a ``BatpassError``: the main
CLI prints one line and exits 2. Results go to standard output (tokens, JSON).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from batpass.core.errors import InvalidInput
from batpass.trust import CredentialRejected, TrustService

__all__ = ["app", "credential_app"]

app = typer.Typer(help="Trust lists: add (verify and keep), list, sign.")
credential_app = typer.Typer(help="Verifiable credentials: issue, verify, revoke, present.")

NodeOpt = Annotated[str, typer.Option("--node", help="the node to act on ($BATPASS_HOME/NAME)")]


def _text(value: str) -> str:
    """A literal value, ``-`` for standard input, or ``@path`` / an existing file path."""
    if value == "-":
        return sys.stdin.read().strip()
    path = Path(value[1:] if value.startswith("@") else value)
    try:
        is_file = value.startswith("@") or (len(value) < 1024 and path.is_file())
    except OSError:
        is_file = False
    if is_file:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc}", field="file", rule="a readable file") from exc
    return value.strip()


def _json(value: str, field: str) -> Any:
    try:
        return json.loads(_text(value))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{field} is not JSON: {exc}", field=field, rule="JSON text") from exc


def _service(name: str) -> TrustService:
    from batpass.node._adapters import federation_fetches
    from batpass.node.local import open_node

    node = open_node(name)
    extra = node.config.extra if isinstance(node.config.extra, dict) else {}
    ca = node.paths.ca_cert
    verify: Any = ssl.create_default_context(cafile=str(ca)) if ca.exists() else True
    trust = TrustService(
        node.engine,
        node.identity,
        base_url=node.base_url,
        ecosystem=str(extra.get("ecosystem", "catena-x")),
        operators=dict(extra.get("trust_operators", {})),
        client=httpx.AsyncClient(verify=verify, timeout=10),
        sync_client=httpx.Client(verify=verify, timeout=10),
        profiles=node.config.profiles,
        bpn=node.config.bpnl,
    )
    if ca.exists():
        # as the served node: DID documents from hosts the federation CA vouches for, or only
        # the configured federation_hosts (docs/decisions/2026-12-06-partners-by-identity.md)
        federation_fetches(trust, extra.get("federation_hosts"), own=f"{node.config.host}:{node.config.port}")
    else:
        # no federation CA: the client trusts the system's CAs, so only the named hosts
        federation_fetches(trust, extra.get("federation_hosts", []), own=f"{node.config.host}:{node.config.port}")
    return trust


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@credential_app.command("issue")
def issue(
    node: NodeOpt,
    ctype: Annotated[str, typer.Option("--type", help="credential type, e.g. AccessRoleCredential")],
    subject: Annotated[str, typer.Option(help="credentialSubject JSON (literal, file, @file or -)")],
    format: Annotated[str, typer.Option(help="vc+jwt or dc+sd-jwt")] = "vc+jwt",
    holder_jwk: Annotated[str | None, typer.Option(help="holder public JWK for SD-JWT key binding")] = None,
    disclose: Annotated[list[str] | None, typer.Option(help="selectively disclosable claim path (repeat)")] = None,
    valid_days: Annotated[int, typer.Option(min=1, max=3650)] = 365,
) -> None:
    """Issue a credential signed by this node; prints the token."""
    svc = _service(node)
    c = svc.issue(
        ctype,
        _json(subject, "subject"),
        format=format,
        holder_jwk=_json(holder_jwk, "holder-jwk") if holder_jwk else None,
        disclosable=disclose or [],
        valid_for=dt.timedelta(days=valid_days),
    )
    typer.echo(c.token)
    typer.echo(f"issued {c.ctype} {c.id} (status list {c.status_list}, index {c.status_index})", err=True)


@credential_app.command("verify")
def verify(
    node: NodeOpt,
    token: Annotated[str, typer.Argument(help="the token (literal, file, @file or -)")],
    require_type: Annotated[str | None, typer.Option(help="credential type it must count as")] = None,
    audience: Annotated[str | None, typer.Option(help="expected key-binding audience")] = None,
    nonce: Annotated[str | None, typer.Option(help="expected key-binding nonce")] = None,
) -> None:
    """Verify a credential through this node's trust lists; prints the chain of reasons."""
    svc = _service(node)
    text = _text(token)
    try:
        v = asyncio.run(
            svc.verify(
                text,
                require_type=require_type,
                audience=audience,
                nonce=nonce,
                require_key_binding=audience is not None and "~" in text,
            )
        )
    except CredentialRejected as exc:
        _echo(
            {
                "verified": False,
                "reason": exc.reason,
                "detail": exc.message,
                "checks": [c.as_dict() for c in exc.checks],
            }
        )
        raise
    _echo(v.as_dict())


@credential_app.command("revoke")
def revoke(
    node: NodeOpt, credential_id: Annotated[str, typer.Argument(help="urn:uuid:… of an issued credential")]
) -> None:
    """Revoke a credential this node issued (its status-list bit is set)."""
    _service(node).revoke(credential_id)
    typer.echo(f"revoked {credential_id}", err=True)


@credential_app.command("present")
def present(
    node: NodeOpt,
    token: Annotated[str, typer.Argument(help="a held credential (literal, file, @file or -)")],
    audience: Annotated[str, typer.Option(help="the verifier's DID")],
    nonce: Annotated[str, typer.Option(help="the verifier's nonce (GET /v1/auth/nonce)")],
    disclose: Annotated[list[str] | None, typer.Option(help="claim path to disclose (repeat)")] = None,
) -> None:
    """Present a held credential: SD-JWT + key binding, or a vp+jwt; prints the presentation."""
    typer.echo(_service(node).present(_text(token), audience=audience, nonce=nonce, disclose=disclose or []))


@app.command("add")
def add(
    node: NodeOpt,
    ecosystem: Annotated[str, typer.Option(help="catena-x, ouranos, …")],
    jws: Annotated[str, typer.Argument(help="the signed trust list (literal, file, @file or -)")],
) -> None:
    """Verify a trust list against the ecosystem's configured operator and keep it."""
    tl = asyncio.run(_service(node).add_trust_list(_text(jws), ecosystem=ecosystem))
    typer.echo(f"trust list of {tl.ecosystem} (sequence {tl.sequence}, {len(tl.issuers)} issuers) added", err=True)


@app.command("list")
def list_(node: NodeOpt) -> None:
    """The trust lists this node holds, and its recognition policy."""
    svc = _service(node)
    _echo({"lists": [tl.to_json() for tl in svc.trust_lists()], "policy": svc.registry.policy.to_json()})


@app.command("sign")
def sign(
    node: NodeOpt,
    trust_list: Annotated[str, typer.Argument(help="trust-list JSON (trust-list.schema.json; file, @file or -)")],
) -> None:
    """Sign a trust list with this node's DID key (the node is the ecosystem operator)."""
    from batpass.trust import sign_trust_list

    svc = _service(node)
    typer.echo(sign_trust_list(_json(trust_list, "trust-list"), svc.identity))
