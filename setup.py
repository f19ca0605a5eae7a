"""The compiled part of batpass's build (everything else is in pyproject.toml).

The modules listed in ``src/batpass/_compiled.py`` are compiled by Cython in pure-Python mode: the
``.py`` files are unchanged Python, and stay beside the compiled modules as their fallback.
``BATPASS_BUILD_PURE=1`` builds without them; a machine that cannot compile (no C compiler or
Python headers) gets a warning and the pure-Python package (the extensions are optional).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from setuptools import Extension, setup


def _compiled_modules() -> list[str]:
    tree = ast.parse(Path("src/batpass/_compiled.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COMPILED" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise RuntimeError("src/batpass/_compiled.py: no COMPILED list")


def _extensions() -> list[Extension]:
    if os.environ.get("BATPASS_BUILD_PURE") == "1":
        return []
    from Cython.Build import cythonize

    extensions = [
        Extension(
            name,
            [f"src/{name.replace('.', '/')}.py"],
            optional=True,  # a failed compile leaves the pure-Python module
            extra_compile_args=["-g0", "-O2"],
        )
        for name in _compiled_modules()
    ]
    return cythonize(
        extensions,
        # the .py files are plain Python: their annotations are for mypy, never C types (a
        # ``float`` argument must stay a Python object, as in the interpreter); C types come only
        # from the .pxd files beside them (src/batpass/_compiled.py)
        compiler_directives={"language_level": 3, "annotation_typing": False, "binding": True},
        quiet=True,
    )


setup(ext_modules=_extensions())
