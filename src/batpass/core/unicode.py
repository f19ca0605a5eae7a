"""Text that can be stored: a JSON value read from a partner (a signed summary's payload, a
reconciliation message, an event body) may spell a lone surrogate as an escape (``"\\ud800"``),
which ``json`` decodes to a ``str`` that is not a sequence of Unicode scalar values. Such a
string cannot be encoded as UTF-8, so both stores refuse it (SQLite and PostgreSQL text is
UTF-8) with a driver error, long after the value was checked. NUL (``"\\u0000"``) is a scalar
value, but PostgreSQL text cannot hold it (SQLite does): it is refused on both stores alike.
:func:`check_scalar_text` refuses either where the value is read, naming the member and the
rule, so the caller gets a 400 and nothing is stored."""

from __future__ import annotations

from typing import Any

import orjson

from batpass.core.errors import InvalidInput

__all__ = ["NUL_TEXT_RULE", "SCALAR_TEXT_RULE", "check_scalar_text"]

SCALAR_TEXT_RULE = "RFC 8259 §8.2: strings are sequences of Unicode scalar values (no lone surrogates)"
#: NUL is a scalar value, but PostgreSQL text cannot hold it: refused on both stores alike
NUL_TEXT_RULE = "no NUL (U+0000) in text: PostgreSQL text cannot hold it"


def _rule_broken(s: str) -> str | None:
    """The rule ``s`` breaks, if any: NUL first (a lone surrogate and NUL in one string: NUL)."""
    if "\x00" in s:
        return NUL_TEXT_RULE
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return SCALAR_TEXT_RULE
    return None


def check_scalar_text(value: Any, *, field: str = "(body)") -> None:
    """Refuse a parsed JSON value holding a string (member name or value) that is not valid
    Unicode or holds NUL, named by its dotted path under ``field``. The common case (nothing to
    refuse) is one encoding of the value in C and a search of its bytes for NUL's escape; only
    a value that does not encode, or may hold NUL, is walked."""
    try:
        if b"\\u0000" not in orjson.dumps(value):
            return
    except (orjson.JSONEncodeError, TypeError):
        pass  # a lone surrogate, or something else orjson does not write: walk to tell which
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(k, str) and (rule := _rule_broken(k)):
                    raise _refusal(field, path, rule)
                stack.append((v, (*path, k)))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
        elif isinstance(node, str) and (rule := _rule_broken(node)):
            raise _refusal(field, path, rule)


def _refusal(field: str, path: tuple[Any, ...], rule: str) -> InvalidInput:
    where = ".".join(str(p) for p in (field, *path) if p != "(body)") or field
    what = "holds NUL (U+0000)" if rule == NUL_TEXT_RULE else "is not valid Unicode (a lone surrogate)"
    return InvalidInput(f"{where}: the text {what}", field=where, rule=rule)
