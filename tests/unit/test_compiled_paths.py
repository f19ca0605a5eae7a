"""The compiled ingest path (``batpass._compiled``, issue 22 part 3) and its pure-Python fallback.

The build compiles the listed modules with Cython (``setup.py``, ``make venv``): each must then be
the module that is loaded, so the speed path cannot vanish unnoticed; and both paths must record
exactly the same ledger. A child process records a whole scenario and a refusal of each kind once
with ``BATPASS_PURE=1`` and once without, on SQLite and PostgreSQL, and every row of every ledger
table, every record call's result and every refusal's class, field, rule, status and details must
be the same.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batpass import _compiled
from batpass.cli import app
from store_testkit import PG_URL, drop_schema, scratch_schema

PROBE = Path(__file__).with_name("compiled_paths_probe.py")
BUILT_PURE = os.environ.get("BATPASS_BUILD_PURE") == "1"


def _env(*, pure: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != _compiled.PURE_ENV}
    if pure:
        env[_compiled.PURE_ENV] = "1"
    return env


def _child(code: str, *, pure: bool) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(pure=pure), capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout)


def _source(name: str) -> Path:
    package, _, stem = name.rpartition(".")
    return Path(importlib.import_module(package).__path__[0]) / f"{stem}.py"


@pytest.mark.skipif(BUILT_PURE, reason="built with BATPASS_BUILD_PURE=1: nothing compiled")
def test_every_listed_module_is_built_current_and_loaded_compiled() -> None:
    status = _child("import json; from batpass import _compiled; print(json.dumps(_compiled.status()))", pure=False)
    assert status == dict.fromkeys(_compiled.COMPILED, "compiled")
    for name in _compiled.COMPILED:
        source = _source(name)
        built = [source.with_name(source.stem + s) for s in importlib.machinery.EXTENSION_SUFFIXES]
        extension = next(p for p in built if p.is_file())
        # a source changed after its build would run stale: make venv builds it again
        assert extension.stat().st_mtime >= source.stat().st_mtime, f"{extension} is older than {source}"
        declared = source.with_suffix(".pxd")
        if declared.is_file():
            assert extension.stat().st_mtime >= declared.stat().st_mtime, f"{extension} is older than {declared}"


def test_pure_forces_every_listed_module_to_its_source() -> None:
    code = (
        "import json, sys; from batpass import _compiled; s = _compiled.status();"
        "print(json.dumps([s, [sys.modules[m].__file__ for m in _compiled.COMPILED]]))"
    )
    status, files = _child(code, pure=True)
    assert status == dict.fromkeys(_compiled.COMPILED, "pure (BATPASS_PURE=1)")
    assert files == [str(_source(m)) for m in _compiled.COMPILED]


def test_the_command_says_which_path_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["compiled"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == _compiled.status()


def _record(store_kind: str, folder: Path, *, pure: bool) -> dict[str, Any]:
    if store_kind == "sqlite":
        args = [f"sqlite:///{folder / ('pure.db' if pure else 'compiled.db')}"]
    else:
        args = [PG_URL, scratch_schema()]
    try:
        done = subprocess.run(
            [sys.executable, str(PROBE), *args],
            env=_env(pure=pure),
            capture_output=True,
            text=True,
            check=True,
            timeout=280,
        )
    finally:
        if store_kind == "postgresql":
            drop_schema(args[1])
    out: dict[str, Any] = json.loads(done.stdout)
    return out


@pytest.mark.slow
def test_compiled_and_pure_paths_record_the_same_ledger(store_kind: str, tmp_path: Path) -> None:
    compiled = _record(store_kind, tmp_path, pure=False)
    pure = _record(store_kind, tmp_path, pure=True)
    assert set(pure.pop("paths").values()) == {"pure (BATPASS_PURE=1)"}
    expected = "pure (not compiled)" if BUILT_PURE else "compiled"
    assert set(compiled.pop("paths").values()) == {expected}
    # the whole scenario went in (and each refusal was one), with something in every kind of row
    assert sum(r[0] for r in compiled["results"]) == compiled["events"] + 1
    assert all(r[0] != "accepted" for r in compiled["refused"]) and len(compiled["refused"]) == 9
    for table in ("ledger_events", "ledger_batches", "ledger_lots", "ledger_profiles", "ledger_edges"):
        assert compiled["tables"][table], table
    assert compiled["tables"]["ledger_credits"] and compiled["tables"]["ledger_alerts"]
    assert compiled["results"] == pure["results"]
    assert compiled["refused"] == pure["refused"]
    assert compiled["tables"].keys() == pure["tables"].keys()
    for table, rows in compiled["tables"].items():
        assert rows == pure["tables"][table], table


def _probe_package(tmp_path: Path) -> tuple[Path, Path]:
    """A package ``fallbackprobe`` whose module ``mod`` has an extension file beside its .py."""
    pkg = tmp_path / "fallbackprobe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "mod.py").write_text("ANSWER = 42\n", encoding="utf-8")
    extension = pkg / f"mod{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    extension.write_bytes(b"not a shared object")
    return pkg, extension


def _load_probe(tmp_path: Path) -> tuple[str, int, str]:
    code = (
        "import json, sys; from batpass import _compiled; names = ['fallbackprobe.mod'];"
        "_compiled.install(names=names); s = _compiled.status(names);"
        "m = sys.modules['fallbackprobe.mod']; print(json.dumps([s['fallbackprobe.mod'], m.ANSWER, m.__file__]))"
    )
    env = {**_env(pure=False), "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60)
    status, answer, file = json.loads(done.stdout)
    return status, answer, file


def test_a_compiled_module_that_does_not_load_falls_back_to_its_source(tmp_path: Path) -> None:
    # a module "built" for another Python or C library: its extension file is there but fails to load
    pkg, _ = _probe_package(tmp_path)
    status, answer, file = _load_probe(tmp_path)
    assert status.startswith("pure (the compiled module did not load")
    assert (answer, file) == (42, str(pkg / "mod.py"))


def test_a_source_edited_after_its_build_runs_from_the_source(tmp_path: Path) -> None:
    # the .py changed after make venv built it: the compiled module would run the old code
    pkg, extension = _probe_package(tmp_path)
    built = extension.stat().st_mtime
    os.utime(pkg / "mod.py", (built + 60, built + 60))
    status, answer, file = _load_probe(tmp_path)
    assert status.startswith("pure (the .py or its .pxd changed after the build")
    assert (answer, file) == (42, str(pkg / "mod.py"))


def test_a_pxd_edited_after_its_build_runs_from_the_source(tmp_path: Path) -> None:
    # the C declarations changed after make venv built the module: it would run with the old ones
    pkg, extension = _probe_package(tmp_path)
    built = extension.stat().st_mtime
    (pkg / "mod.pxd").write_text("cpdef int answer()\n", encoding="utf-8")
    os.utime(pkg / "mod.pxd", (built + 60, built + 60))
    status, answer, file = _load_probe(tmp_path)
    assert status.startswith("pure (the .py or its .pxd changed after the build")
    assert (answer, file) == (42, str(pkg / "mod.py"))
