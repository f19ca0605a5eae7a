"""Positional constructors for the frozen, slotted dataclasses bulk ingest builds per event.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (a global, an
attribute and a call per field); ingest builds an event, its inputs, outputs, quantities and
edges for every recorded event, and those constructors cost about a tenth of the ingest CPU. The
function made here sets each slot through its own descriptor instead: the same instance (equal,
hashed and frozen alike), built in about half the time. Only for classes whose ``__init__`` does
nothing else (no ``__post_init__``, every field an ``__init__`` argument); every argument is given,
in field order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["positional_constructor"]

_T = TypeVar("_T")


def positional_constructor(cls: type[_T]) -> Callable[..., _T]:
    """``cls(*values)`` for every field given in order, without the frozen ``__init__``."""
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if (
        not params.frozen
        or "__slots__" not in cls.__dict__
        or hasattr(cls, "__post_init__")
        or not all(f.init for f in fields)
    ):
        raise TypeError(f"{cls.__name__}: only for frozen slotted dataclasses set by __init__ alone")
    names = [f.name for f in fields]
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def make({', '.join(names)}):", "    o = _new(_cls)"]
    for k, name in enumerate(names):
        scope[f"_s{k}"] = cls.__dict__[name].__set__
        lines.append(f"    _s{k}(o, {name})")
    lines.append("    return o")
    exec("\n".join(lines), scope)
    make: Callable[..., _T] = scope["make"]
    make.__qualname__ = make.__name__ = f"new_{cls.__name__}"
    return make
