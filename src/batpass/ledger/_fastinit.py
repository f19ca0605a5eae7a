"""Constructors for the frozen, slotted dataclasses bulk ingest builds per event.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (a global, an
attribute and a call per field); ingest builds an event, its inputs, outputs, quantities and
edges for every recorded event, and those constructors cost about a tenth of the ingest CPU. The
function made here sets each slot through its own descriptor instead: the same instance (equal,
hashed and frozen alike), built in about half the time. Only for classes whose ``__init__`` does
nothing else (no ``__post_init__``, every field an ``__init__`` argument); every argument is given,
in field order.

:func:`twin` serves compiled code (``ledger._compiled``): a generated function stays interpreted
even when its caller is compiled, and calls a descriptor per field. A twin is a plain class with
the dataclass's slots and nothing else; an instance made as a twin has its slots set by ordinary
assignment (no frozen ``__setattr__`` to go around: in compiled code a C-level store), then
takes the dataclass as its class (``__class__`` assignment, which Python allows between classes
of the same layout), and is from then on the dataclass's own instance, equal, hashed, printed and
frozen alike. The twin itself never leaves the function that builds with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["positional_constructor", "twin"]

_T = TypeVar("_T")


def _field_names(cls: type) -> list[str]:
    """The fields of a frozen slotted dataclass whose ``__init__`` only sets them; else TypeError."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None:
        raise TypeError(f"{cls.__name__}: not a dataclass")
    fields = dataclasses.fields(cls)
    if (
        not params.frozen
        or "__slots__" not in cls.__dict__
        or hasattr(cls, "__post_init__")
        or not all(f.init for f in fields)
    ):
        raise TypeError(f"{cls.__name__}: only for frozen slotted dataclasses set by __init__ alone")
    return [f.name for f in fields]


def positional_constructor(cls: type[_T]) -> Callable[..., _T]:
    """``cls(*values)`` for every field given in order, without the frozen ``__init__``."""
    names = _field_names(cls)
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


def twin(cls: type) -> type:
    """A plain class with ``cls``'s slots, whose instances may take ``cls`` as their class (see
    the module docstring); TypeError for a class it cannot stand for, or where Python refuses the
    class assignment."""
    names = _field_names(cls)
    if list(cls.__dict__["__slots__"]) != names:
        raise TypeError(f"{cls.__name__}: its slots are not its fields")
    made = type(f"_{cls.__name__}Twin", (), {"__slots__": tuple(names), "__module__": __name__})
    trial: Any = object.__new__(made)
    trial.__class__ = cls  # TypeError where the layouts differ
    return made
