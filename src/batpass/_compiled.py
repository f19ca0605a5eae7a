"""Which modules of the ledger's ingest path run compiled, and the pure-Python fallback.

The modules in :data:`COMPILED` are ordinary Python, and the same files are compiled by Cython
(pure-Python mode: nothing in them is Cython syntax) when batpass is built (``setup.py``; ``make
venv`` builds them in place, a wheel carries them for its Python). Python imports the compiled
module when it is there; this finder keeps the ``.py`` beside it as the fallback:

- ``BATPASS_PURE=1`` in the environment when batpass is first imported runs them all from their
  ``.py`` files (read here, at import, because the choice must be made before the modules are);
- a compiled module that does not load (built for another Python or C library) is imported from
  its ``.py`` instead, and :func:`status` says why;
- a compiled module older than its ``.py`` or the ``.pxd`` beside it (the source edited after
  ``make venv`` built it) would run the old code: the ``.py`` is imported instead until the module
  is built again. A wheel's files are all written within moments of each other, hence
  :data:`STALE_AFTER_S`.

A ``.pxd`` beside a module (Cython's "augmenting" declarations, read only by the compiler) makes
classes of it extension types with typed fields (``model.Lot``, ``model.Effect``) and types the
locals of the functions that handle them most, so that the compiled code reads and writes their
fields as C struct members; the ``.py`` stays the whole definition for the interpreter.

Both paths give identical results (tests/unit/test_compiled_paths.py records a whole scenario
each way and compares every row). Knows nothing of what the modules do.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["COMPILED", "PURE_ENV", "install", "status"]

#: the modules Cython compiles (setup.py reads this list): decoding, ``apply_event``, profile
#: mixing, the per-event record loop, the rows it writes, the hash chain and the shipment
#: checks, where bulk ingest spends its Python
COMPILED = (
    "batpass.ledger._chain",
    "batpass.ledger._outflow",
    "batpass.ledger._profile",
    "batpass.ledger._record",
    "batpass.ledger._rows",
    "batpass.ledger._shipment_rules",
    "batpass.ledger._wire",
    "batpass.ledger.model",
)
PURE_ENV = "BATPASS_PURE"
#: a ``.py`` written this long after its compiled module has changed since the build
STALE_AFTER_S = 2.0

#: per compiled module: "compiled", or why it runs from its .py
_LOADED: dict[str, str] = {}


class _ExtensionOrSource(importlib.abc.Loader):
    """Loads the compiled module; if it fails to load, the ``.py`` beside it."""

    def __init__(self, name: str, extension: str, source: str) -> None:
        self.extension = importlib.machinery.ExtensionFileLoader(name, extension)
        self.source = importlib.machinery.SourceFileLoader(name, source)
        self.name = name
        self.fell_back = False

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        try:
            module = self.extension.create_module(spec)
        except ImportError as exc:
            self.fell_back = True
            _LOADED[self.name] = f"pure (the compiled module did not load: {exc})"
            return None
        _LOADED[self.name] = "compiled"
        return module

    def exec_module(self, module: ModuleType) -> None:
        if self.fell_back:
            module.__file__ = self.source.path
            self.source.exec_module(module)
        else:
            self.extension.exec_module(module)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, pure: bool, names: Sequence[str] = COMPILED) -> None:
        self.pure = pure
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names or not path:
            return None
        stem = fullname.rpartition(".")[2]
        folder = Path(path[0])
        source = folder / f"{stem}.py"
        if not source.is_file():
            return None
        extension = next(
            (p for s in importlib.machinery.EXTENSION_SUFFIXES if (p := folder / f"{stem}{s}").is_file()), None
        )
        if self.pure or extension is None:
            _LOADED[fullname] = f"pure ({PURE_ENV}=1)" if self.pure else "pure (not compiled)"
            return importlib.util.spec_from_file_location(fullname, source)
        # the C types of a module's names are declared in the .pxd beside it, when there is one
        declared = folder / f"{stem}.pxd"
        edited = max(source.stat().st_mtime, declared.stat().st_mtime if declared.is_file() else 0.0)
        if edited > extension.stat().st_mtime + STALE_AFTER_S:
            _LOADED[fullname] = "pure (the .py or its .pxd changed after the build: make venv builds it again)"
            return importlib.util.spec_from_file_location(fullname, source)
        loader = _ExtensionOrSource(fullname, str(extension), str(source))
        return importlib.util.spec_from_file_location(fullname, extension, loader=loader)


def install(environ: Any = os.environ, names: Sequence[str] = COMPILED) -> None:
    """Put the finder of ``names`` first on ``sys.meta_path`` (once per set of names)."""
    if not any(isinstance(f, _Finder) and f.names == frozenset(names) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder(environ.get(PURE_ENV) == "1", names))


def status(names: Sequence[str] = COMPILED) -> dict[str, str]:
    """Each compiled module's path: ``compiled``, or ``pure (why)``; imports them if need be."""
    for name in names:
        importlib.import_module(name)
    return {name: _LOADED.get(name, "pure (imported before the finder)") for name in names}
