"""Every command and group of ``batpass``, misused as a newcomer would: no arguments, an unknown
option, a bad value. Each answers its usage and one ``error:`` line on stderr, exits 2, prints
nothing on stdout and never a traceback.

The commands are read from the CLI itself, so a command added later is checked too. The checks run
``batpass.cli.main`` in this process (as the console script does) with an empty ``BATPASS_HOME``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from batpass.cli import app, main

ROOT = typer.main.get_command(app)


def _walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(ROOT, ()))
GROUPS = [path for path, cmd in COMMANDS if hasattr(cmd, "commands")]
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not hasattr(cmd, "commands")]


def _ids(path: tuple[str, ...]) -> str:
    return " ".join(path) or "batpass"


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], home: Path, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("BATPASS_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "argv", ["batpass", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    code = exit_.value.code
    return (code if isinstance(code, int) else 1), out, err


def assert_usage_error(code: int, out: str, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and "Traceback" not in out
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err


def _required(cmd: Any) -> list[Any]:
    return [p for p in cmd.params if p.required]


def _bad_value_args(cmd: Any) -> list[str]:
    """The required parameters filled in, with one value that cannot be right: a number option given
    a word where the command has one, otherwise a node that does not exist."""
    typed = [p for p in cmd.params if p.param_type_name == "option" and p.type_descriptor.annotation in (int, float)]
    args: list[str] = []
    for p in cmd.params:
        if p.param_type_name == "argument" and p.required:
            args.append("x")
        elif p.param_type_name == "option" and (p.required or (p is typed[0] if typed else False)):
            if typed and p is typed[0]:
                value = "abc"
            elif p.name == "node":
                value = "no-such-node"
            else:
                value = "1" if p.type_descriptor.annotation in (int, float) else "x"
            args += [p.opts[0], value]
    if not typed and "--node" not in args and any(p.name == "node" for p in cmd.params):
        args += ["--node", "no-such-node"]
    return args


@pytest.mark.parametrize("path", GROUPS, ids=_ids)
def test_a_group_without_a_command_names_its_commands(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(monkeypatch, capsys, tmp_path, *path)
    assert_usage_error(code, out, err)
    assert "missing command (one of:" in err and f"Usage: batpass {' '.join(path)}".rstrip() in err


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=_ids)
def test_an_unknown_option_is_a_usage_error(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(monkeypatch, capsys, tmp_path, *path, "--no-such-option")
    assert_usage_error(code, out, err)
    assert "--no-such-option" in err


@pytest.mark.parametrize(
    ("path", "cmd"), [(p, c) for p, c in LEAVES if _required(c)], ids=lambda v: _ids(v) if isinstance(v, tuple) else ""
)
def test_a_command_without_its_required_arguments_is_a_usage_error(
    path: tuple[str, ...], cmd: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(monkeypatch, capsys, tmp_path, *path)
    assert_usage_error(code, out, err)
    assert "Missing" in err


@pytest.mark.parametrize(
    ("path", "cmd"),
    [(p, c) for p, c in LEAVES if _bad_value_args(c)],
    ids=lambda v: _ids(v) if isinstance(v, tuple) else "",
)
def test_a_bad_value_is_one_line_and_exit_2(
    path: tuple[str, ...], cmd: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(monkeypatch, capsys, tmp_path, *path, *_bad_value_args(cmd))
    assert_usage_error(code, out, err)


def test_a_misspelt_command_suggests_the_right_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(monkeypatch, capsys, tmp_path, "pasport")
    assert_usage_error(code, out, err)
    assert "error: No such command 'pasport'. Did you mean 'passport'?" in err


def test_a_malformed_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("BATPASS_LOG_FORMAT", "xml")
    code, out, err = run(monkeypatch, capsys, tmp_path, "info", "--node", "n")
    assert_usage_error(code, out, err)
    assert "BATPASS_LOG_FORMAT" in err


def test_every_command_is_covered() -> None:
    """The lists above are not empty by accident (a refactor that hides the commands)."""
    assert len(GROUPS) >= 8 and len(LEAVES) >= 30


def test_serve_without_a_node_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A container names its node in BATPASS_NODE (deploy/README.md): without it, serve refuses
    before it opens anything."""
    monkeypatch.delenv("BATPASS_NODE", raising=False)
    code, out, err = run(monkeypatch, capsys, tmp_path, "serve")
    assert_usage_error(code, out, err)
    assert "BATPASS_NODE" in err


def test_serve_takes_its_node_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("BATPASS_NODE", "no-such-node")
    code, out, err = run(monkeypatch, capsys, tmp_path, "serve")
    assert_usage_error(code, out, err)
    assert str(tmp_path / "no-such-node" / "config.json") in err.replace("\n", "")
