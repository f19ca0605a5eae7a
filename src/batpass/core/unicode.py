"""Text that can be stored: a JSON value read from a partner (a signed summary's payload, a
reconciliation message, an event body) may spell a lone surrogate as an escape (``"\\ud800"``),
which ``json`` decodes to a ``str`` that is not a sequence of Unicode scalar values. Such a
string cannot be encoded as UTF-8, so both stores refuse it (SQLite and PostgreSQL text is
UTF-8) with a driver error, long after the value was checked. :func:`check_scalar_text` refuses
it where the value is read, naming the member, so the caller gets a 400 and nothing is stored."""

from __future__ import annotations

from typing import Any

import orjson

from batpass.core.errors import InvalidInput

__all__ = ["SCALAR_TEXT_RULE", "check_scalar_text"]

SCALAR_TEXT_RULE = "RFC 8259 §8.2: strings are sequences of Unicode scalar values (no lone surrogates)"


def _bad(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_scalar_text(value: Any, *, field: str = "(body)") -> None:
    """Refuse a parsed JSON value holding a string (member name or value) that is not valid
    Unicode, named by its dotted path under ``field``. The common case (nothing to refuse) is
    one encoding of the value in C; only a value that does not encode is walked."""
    try:
        orjson.dumps(value)
        return
    except (orjson.JSONEncodeError, TypeError):
        pass  # a lone surrogate, or something else orjson does not write: walk to tell which
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(k, str) and _bad(k):
                    raise _refusal(field, path)
                stack.append((v, (*path, k)))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
        elif isinstance(node, str) and _bad(node):
            raise _refusal(field, path)


def _refusal(field: str, path: tuple[Any, ...]) -> InvalidInput:
    where = ".".join(str(p) for p in (field, *path) if p != "(body)") or field
    return InvalidInput(
        f"{where}: the text is not valid Unicode (a lone surrogate)", field=where, rule=SCALAR_TEXT_RULE
    )
