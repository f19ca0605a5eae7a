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
from typing import Annotated

import typer

from batpass.accounts import AccountService, Role
from batpass.core.errors import InvalidInput

__all__ = ["PASSWORD_ENV", "app"]

PASSWORD_ENV = "BATPASS_USER_PASSWORD"

app = typer.Typer(help="Console users: add, list, remove.")

NodeOpt = Annotated[str, typer.Option("--node", help="node name (folder under $BATPASS_HOME)")]


@contextmanager
def _accounts(node_name: str) -> Iterator[AccountService]:
    from batpass.node.local import open_node

    node = open_node(node_name)
    try:
        yield AccountService(node.engine)
    finally:
        node.close()


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
    with _accounts(node) as svc:
        user = svc.add_user(name, parsed, password, operator=operator)
    typer.echo(json.dumps(user.to_json()))


@app.command("list")
def list_users(node: NodeOpt) -> None:
    """Every console user of the node, as JSON."""
    with _accounts(node) as svc:
        typer.echo(json.dumps([u.to_json() for u in svc.users()], indent=2))


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="the user's name")], node: NodeOpt) -> None:
    """Remove a console user and end their sessions (the audit log keeps their entries)."""
    with _accounts(node) as svc:
        svc.remove_user(name)
    typer.echo(json.dumps({"removed": name}))
