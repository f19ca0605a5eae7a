"""``batpass backup`` and ``batpass restore``: a node in one encrypted file, and back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from batpass.core.errors import InvalidInput
from batpass.core.settings import load_settings

__all__ = ["backup", "restore"]

PASSPHRASE_ENV = "BATPASS_BACKUP_PASSPHRASE"
MIN_PASSPHRASE = 8

err_console = Console(stderr=True)
out_console = Console()

PassphraseOpt = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"a file holding the passphrase (first line; default: ${PASSPHRASE_ENV})",
        dir_okay=False,
    ),
]


def _passphrase(file: Path | None) -> str:
    """The passphrase from ``--passphrase-file`` (its first line) or ``$BATPASS_BACKUP_PASSPHRASE``."""
    if file is not None:
        try:
            if file.stat().st_mode & 0o007:
                raise InvalidInput(
                    f"the passphrase file {file} is readable by others",
                    field="--passphrase-file",
                    rule="a passphrase file is mode 600, as key files are",
                )
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(
                f"cannot read the passphrase file {file}: {getattr(exc, 'strerror', None) or exc}",
                field="--passphrase-file",
                rule="a readable UTF-8 file",
            ) from exc
        value, source = (text.splitlines() or [""])[0], "--passphrase-file"
    else:
        value, source = os.environ.get(PASSPHRASE_ENV, ""), PASSPHRASE_ENV
        if not value:
            raise InvalidInput(
                f"no passphrase: give --passphrase-file FILE or set {PASSPHRASE_ENV}",
                field="passphrase",
                rule="a backup is encrypted under a passphrase",
            )
    if len(value) < MIN_PASSPHRASE:
        raise InvalidInput(
            f"the passphrase from {source} is shorter than {MIN_PASSPHRASE} characters",
            field=source,
            rule=f"a passphrase of at least {MIN_PASSPHRASE} characters",
        )
    return value


def backup(
    node: Annotated[str, typer.Option("--node", help="the node to back up ($BATPASS_HOME/NAME)")],
    out: Annotated[Path, typer.Option("--out", help="the backup file to write (mode 600; never overwritten)")],
    passphrase_file: PassphraseOpt = None,
) -> None:
    """Back up a node while it serves: its database (SQLite online backup, or pg_dump of its
    PostgreSQL schema), keys, certificates and configuration, in one file encrypted under a
    passphrase (scrypt, AES-256-GCM). Prints what it wrote as JSON."""
    from batpass.backup import backup_node
    from batpass.node.local import open_node

    passphrase = _passphrase(passphrase_file)
    local = open_node(node, settings=load_settings())
    summary = backup_node(local, out, passphrase)
    err_console.print(f"backed up node {node} ({summary.store}) to {summary.file}", highlight=False, soft_wrap=True)
    out_console.print_json(json.dumps(summary.to_json()))


def restore(
    source: Annotated[Path, typer.Option("--from", help="the backup file", dir_okay=False)],
    node: Annotated[str, typer.Option("--node", help="the node to restore as ($BATPASS_HOME/NAME, new or empty)")],
    passphrase_file: PassphraseOpt = None,
) -> None:
    """Restore a backup as a node in a new (or empty) home folder, or into its PostgreSQL schema
    (absent or empty). Nothing is written unless the passphrase opens the file and every byte of
    it is authentic. Check the result with 'batpass verify --node NAME'."""
    from batpass.backup import restore_node

    passphrase = _passphrase(passphrase_file)
    summary = restore_node(source, node, passphrase, settings=load_settings())
    out_console.print_json(json.dumps(summary.to_json()))
    err_console.print(
        f"restored node {node} in {summary.home}; check it with: batpass verify --node {node}",
        highlight=False,
        soft_wrap=True,
    )
