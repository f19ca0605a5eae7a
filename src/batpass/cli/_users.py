"""``batpass user add|list|remove``: the console's people on a local node (docs/console.md).

The password is never an argument (it would land in shell history and ``ps``): it is read from
``--password-file`` (its first line), else from ``$BATPASS_USER_PASSWORD``, else asked for twice
at the terminal without echo. Without a terminal (CI, a script) one of the first two is required.
Bad input ends with one line and exit code 2, nothing stored; the node is closed after each
command.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from batpass.accounts import AccountService, Role
from batpass.core.errors import InvalidInput

if TYPE_CHECKING:
    from batpass.node.local import LocalNode

__all__ = ["PASSWORD_ENV", "app"]

PASSWORD_ENV = "BATPASS_USER_PASSWORD"

app = typer.Typer(help="Console users: add, list, remove.")

NodeOpt = Annotated[str, typer.Option("--node", help="node name (folder under $BATPASS_HOME)")]


@contextmanager
def _accounts(node_name: str, *, operator: str | None = None) -> Iterator[tuple[AccountService, str | None]]:
    """The node's accounts, and ``operator`` as the DID of the hub's hosted operator it names
    (its hub id, its open id or its DID); refused on a node that hosts no operators."""
    from batpass.node.local import open_node

    node = open_node(node_name)
    try:
        did = None
        if operator is not None:
            if "ouranos" not in node.config.profiles:
                raise InvalidInput(
                    f"operator: {node_name} is not a hub; --operator scopes a user to one operator a hub hosts",
                    field="operator",
                    rule="--operator only on a node with the ouranos profile",
                )
            did = _hosted_operator(node, operator.strip())
        yield AccountService(node.engine), did
    finally:
        node.close()


def _hosted_operator(node: LocalNode, wanted: str) -> str:
    from batpass.ouranos import OuranosHub

    hub = OuranosHub(node.engine, node.identity, hub_home=node.home / "ouranos", base_url=node.base_url)
    for op in hub.operators():
        if wanted in (op.operator_id, op.open_operator_id, op.did):
            return op.did
    raise InvalidInput(
        f"operator: {wanted!r} is not an operator {node.name} hosts (batpass ouranos operators --node {node.name})",
        field="operator",
        rule="a hosted operator's id, open operator id or DID",
    )


def _password(path: Path | None) -> str:
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"password-file: cannot read {path}: {exc.strerror}", field="password-file", rule="a readable file"
            ) from exc
        return text.splitlines()[0] if text else ""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise InvalidInput(
            f"password: no terminal to ask at; pass --password-file or set {PASSWORD_ENV}",
            field="password",
            rule="the password is never a command-line argument",
        )
    first = typer.prompt("Password", hide_input=True, err=True)
    if typer.prompt("Again", hide_input=True, err=True) != first:
        raise InvalidInput("password: the two entries differ", field="password", rule="type the same password twice")
    return str(first)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="the user's name (letters, digits, . _ @ -)")],
    node: NodeOpt,
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")],
    operator: Annotated[
        str | None, typer.Option("--operator", help="on a hub: the hosted operator this user acts for")
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="a file whose first line is the password")
    ] = None,
) -> None:
    """Add a console user; prints the user (never the password)."""
    parsed = Role.parse(role)  # refused before a password is asked for
    password = _password(password_file)
    with _accounts(node, operator=operator) as (svc, scope):
        user = svc.add_user(name, parsed, password, operator=scope)
    typer.echo(json.dumps(user.to_json()))


@app.command("list")
def list_users(node: NodeOpt) -> None:
    """Every console user of the node, as JSON."""
    with _accounts(node) as (svc, _scope):
        typer.echo(json.dumps([u.to_json() for u in svc.users()], indent=2))


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="the user's name")], node: NodeOpt) -> None:
    """Remove a console user and end their sessions (the audit log keeps their entries)."""
    with _accounts(node) as (svc, _scope):
        svc.remove_user(name)
    typer.echo(json.dumps({"removed": name}))
