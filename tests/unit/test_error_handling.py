"""Errors are handled by type and fields, never by their text (STYLE items 6, 14 and 15).

- No module under ``src/batpass`` tests the text of a caught exception: within an ``except ... as
  name`` block, ``str(name)``, ``repr(name)``, ``name.message``, ``name.args`` or an f-string of
  ``name`` may be shown or passed on, but never compared (``==``, ``in``, ...), searched with
  ``re`` or taken apart with ``startswith``, ``split`` and the like. The text is for people; a
  caller that needs to tell failures apart gets a type or a field.
- Every error class of the one tree, wherever it is defined, maps at every edge: problem details
  on ``/v1`` and each standard API's own shape (``ERROR_SHAPES`` of each routes module).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import batpass
from batpass.core.errors import BatpassError
from batpass.dataspace import Stage
from batpass.http import problem_body

SRC = Path(batpass.__file__).resolve().parent

#: string methods that test or take apart a text
_TEXT_TESTS = frozenset(
    {
        "startswith",
        "endswith",
        "find",
        "rfind",
        "index",
        "rindex",
        "count",
        "split",
        "rsplit",
        "partition",
        "rpartition",
        "__contains__",
        "__eq__",
        "casefold",
        "lower",
        "upper",
    }
)
#: ``re`` functions that search a text
_RE_SEARCHES = frozenset({"search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split"})


def _is_text_of(node: ast.AST, names: set[str]) -> bool:
    """Whether ``node`` is the text of a caught exception bound to one of ``names``: ``str(e)``,
    ``repr(e)``, ``format(e)``, ``e.message``, ``e.args`` (or an item of it), an f-string
    holding ``e``, or a string method applied to any of these (``str(e).lower()``)."""
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in ("str", "repr", "format") and node.args:
            first = node.args[0]
            return (isinstance(first, ast.Name) and first.id in names) or _is_text_of(first, names)
        if isinstance(node.func, ast.Attribute):  # str(e).strip(), e.message.lower(), ...
            return _is_text_of(node.func.value, names)
        return False
    if isinstance(node, ast.Attribute):
        return node.attr in ("message", "args") and isinstance(node.value, ast.Name) and node.value.id in names
    if isinstance(node, ast.Subscript):
        return _is_text_of(node.value, names)
    if isinstance(node, ast.JoinedStr):
        return any(
            isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name) and v.value.id in names
            for v in node.values
        )
    return False


def _findings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for handler in ast.walk(tree):
        if not isinstance(handler, ast.ExceptHandler) or handler.name is None:
            continue
        names = {handler.name}
        for stmt in handler.body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Compare):
                    operands = [node.left, *node.comparators]
                    if any(_is_text_of(o, names) for o in operands):
                        yield node.lineno, "compares the exception's text"
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    func = node.func
                    if func.attr in _TEXT_TESTS and _is_text_of(func.value, names):
                        yield node.lineno, f"takes the exception's text apart ({func.attr})"
                    elif (
                        isinstance(func.value, ast.Name)
                        and func.value.id == "re"
                        and func.attr in _RE_SEARCHES
                        and any(_is_text_of(a, names) for a in node.args)
                    ):
                        yield node.lineno, f"searches the exception's text (re.{func.attr})"


def test_no_module_tests_an_exceptions_text() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [f"{path.relative_to(SRC.parent)}:{line}: {what}" for line, what in _findings(tree)]
    assert not found, "map the error's type or a field, not its text:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "code",
    [
        'try:\n    f()\nexcept ValueError as exc:\n    if "404" in str(exc):\n        pass',
        "try:\n    f()\nexcept ValueError as exc:\n    re.search(r'\\((401|403)\\)', str(exc))",
        "try:\n    f()\nexcept E as err:\n    ok = str(err).startswith('events[')",
        "try:\n    f()\nexcept E as err:\n    ok = err.message == 'x'",
        "try:\n    f()\nexcept E as err:\n    ok = 'BPN' in err.message",
        "try:\n    f()\nexcept E as err:\n    ok = err.message.split(': ', 1)[1]",
        "try:\n    f()\nexcept E as err:\n    ok = 'x' in f'{err}'",
        "try:\n    f()\nexcept E as err:\n    ok = str(err).lower() == 'x'",
        "try:\n    f()\nexcept E as err:\n    ok = err.args[0] == 'x'",
    ],
)
def test_the_check_finds_text_tests(code: str) -> None:
    assert list(_findings(ast.parse(code)))


@pytest.mark.parametrize(
    "code",
    [
        "try:\n    f()\nexcept E as err:\n    raise Other(f'failed: {err}') from err",
        "try:\n    f()\nexcept E as err:\n    log.warning('x %s', str(err))",
        "try:\n    f()\nexcept E as err:\n    ok = err.partner_status in (400, 404)",
        "try:\n    f()\nexcept E as err:\n    ok = isinstance(err.__cause__, OSError)",
        "try:\n    f()\nexcept E as err:\n    detail = str(err)[:2000]",
        "def shape(err):\n    return 'x' in err.message",  # not a caught exception
    ],
)
def test_the_check_lets_texts_be_shown_and_fields_be_tested(code: str) -> None:
    assert not list(_findings(ast.parse(code)))


# -- every error class at every edge -----------------------------------------------------------


def _modules() -> list[Any]:
    mods = []
    for info in pkgutil.walk_packages(batpass.__path__, prefix="batpass."):
        if info.name.startswith(("batpass.cli", "batpass.demo", "batpass.__main__")):
            continue  # the command line and the demo define no edge of their own here
        mods.append(importlib.import_module(info.name))
    return mods


def _subclasses(cls: type[BatpassError]) -> set[type[BatpassError]]:
    out = {cls}
    for sub in cls.__subclasses__():
        out |= _subclasses(sub)
    return out


#: a sample value for each required parameter an error class takes
_SAMPLES: dict[str, Any] = {
    "message": "x",
    "value": "v",
    "rule": "r",
    "id_kind": "k",
    "stage": Stage.CATALOG,
    "partner": "did:web:partner.example",
    "reason": "because",
    "error": "invalid_request",
    "status": 400,
}


def _instance(cls: type[BatpassError]) -> BatpassError:
    """An instance of ``cls`` with sample values for its required parameters."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        if param.default is not inspect.Parameter.empty:
            continue
        assert name in _SAMPLES, f"{cls.__qualname__}: no sample for its required parameter {name!r}"
        if param.kind is param.KEYWORD_ONLY:
            kwargs[name] = _SAMPLES[name]
        else:
            args.append(_SAMPLES[name])
    return cls(*args, **kwargs)


def test_every_error_class_maps_at_every_edge() -> None:
    modules = _modules()
    classes = sorted(_subclasses(BatpassError), key=lambda c: f"{c.__module__}.{c.__qualname__}")
    shapes = {
        f"{m.__name__}:{prefix}": build
        for m in modules
        if isinstance(getattr(m, "ERROR_SHAPES", None), dict)
        for prefix, build in m.ERROR_SHAPES.items()
    }
    assert len(shapes) >= 10 and any("dataspace.routes" in k for k in shapes)
    assert any(c.__module__ == "batpass.dataspace.errors" and c.__name__ == "NotEntitled" for c in classes)
    problems = []
    for cls in classes:
        err = _instance(cls)
        body = problem_body(err)
        if body["status"] != err.status or not body["type"].endswith(err.kind) or not 400 <= body["status"] < 600:
            problems.append(f"{cls.__qualname__}: problem details {body}")
        for where, build in shapes.items():
            resp = build(err)
            if not 400 <= resp.status_code < 600:
                problems.append(f"{cls.__qualname__} at {where}: status {resp.status_code}")
            try:
                json.loads(bytes(resp.body))
            except ValueError:
                problems.append(f"{cls.__qualname__} at {where}: the body is not JSON")
    assert not problems, "\n".join(problems)
