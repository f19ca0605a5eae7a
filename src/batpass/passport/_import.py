"""What every passport importer produces, and the strict reading of a foreign document.

An importer turns one document of a published model (Catena-X battery_pass, the Battery Pass
modules, an AAS environment) into an :class:`ImportedPassport`: the battery, its model and
category, and the data points parsed by the model's own rules. A value batpass cannot hold is
refused with the JSON path and the rule (:class:`~batpass.core.errors.InvalidInput`), never
guessed; a value of a part batpass does not keep is listed in ``ignored`` (never dropped
silently). Pure: no SQL, no HTTP.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.passport.model import FIELDS_BY_KEY, Category, Status, Tier, coerce_value

__all__ = ["FORMATS", "ImportedPassport", "Source", "leaf_paths"]

#: the formats ``batpass passport import`` and ``POST /v1/passports:import`` read
FORMATS = ("catenax", "batterypass", "aas")


@dataclass(frozen=True, slots=True)
class ImportedPassport:
    """One passport read from a foreign document, its data points parsed by the model's rules.

    ``values`` holds the static and item-level data points, ``dynamic`` the per-battery ones
    (Annex XIII (4)) with ``dynamic_at`` their newest time stamp; ``source_id`` is the passport
    identifier the document names; ``ignored`` the JSON paths carrying values batpass keeps no
    data point for."""

    format: str
    battery: BatteryId
    category: Category
    model_id: str
    status: Status
    values: Mapping[str, Any]
    dynamic: Mapping[str, Any] = field(default_factory=dict)
    dynamic_at: dt.date | None = None
    source_id: str | None = None
    ignored: tuple[str, ...] = ()


def leaf_paths(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted paths of the leaves of a JSON value (list items as ``[n]``), with their values."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from leaf_paths(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(node, list):
        for n, v in enumerate(node):
            yield from leaf_paths(v, f"{prefix}[{n}]")
    else:
        yield prefix, node


class Source:
    """Typed, strict access to a foreign document by dotted path; records what was read.

    Every accessor raises :class:`InvalidInput` naming the path and ``rule`` when the value has
    the wrong type; an absent value is ``None``."""

    def __init__(self, doc: Any, *, rule: str, prefix: str = "") -> None:
        if not isinstance(doc, Mapping):
            raise InvalidInput(f"{prefix or '(root)'}: expected a JSON object", field=prefix or "(root)", rule=rule)
        self.doc = doc
        self.rule = rule
        self.prefix = prefix
        self.read: set[str] = set()
        self.values: dict[str, Any] = {}
        self.dynamic: dict[str, Any] = {}
        self.times: list[dt.date] = []

    def where(self, path: str) -> str:
        return f"{self.prefix}.{path}" if self.prefix else path

    def bad(self, path: str, msg: str) -> InvalidInput:
        return InvalidInput(f"{self.where(path)}: {msg}", field=self.where(path), rule=self.rule)

    def get(self, path: str, *, mark: bool = True) -> Any:
        if mark:
            self.read.add(path)
        cur: Any = self.doc
        for part in path.split("."):
            if not isinstance(cur, Mapping) or part not in cur:
                return None
            cur = cur[part]
        return cur

    def number(self, path: str) -> float | None:
        raw = self.get(path)
        if raw is None:
            return None
        return self.as_number(path, raw)

    def as_number(self, path: str, raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise self.bad(path, "expected a number")
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise self.bad(path, "the number is out of range")
        return value

    def text(self, path: str) -> str | None:
        raw = self.get(path)
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise self.bad(path, "expected a string")
        return raw

    def items(self, path: str) -> list[Any]:
        raw = self.get(path)
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.bad(path, "expected an array")
        return raw

    def date(self, path: str, raw: Any) -> dt.date:
        """An ISO 8601 date or date-time (the date part)."""
        if not isinstance(raw, str):
            raise self.bad(path, "expected an ISO 8601 date")
        try:
            return dt.date.fromisoformat(raw[:10])
        except ValueError:
            raise self.bad(path, f"'{raw[:40]}' is not an ISO 8601 date (YYYY-MM-DD)") from None

    def stamp(self, path: str, raw: Any) -> None:
        """Note the time stamp of a dynamic value (the newest becomes ``dynamic_updated_at``)."""
        if raw not in (None, ""):
            self.times.append(self.date(path, raw))

    def put(self, path: str, key: str, raw: Any) -> None:
        """Parse ``raw`` as data point ``key`` (its own rule); a refusal names ``path`` and ``key``."""
        spec = FIELDS_BY_KEY[key]
        try:
            value = coerce_value(spec, raw)
        except InvalidInput as exc:
            raise InvalidInput(
                f"{self.where(path)} ({key}): {exc.message}", field=self.where(path), rule=exc.rule, value=raw
            ) from exc
        (self.dynamic if spec.tier is Tier.DYNAMIC else self.values)[key] = value

    def unread(self, *, placeholders: tuple[Any, ...] = ("", -1, None)) -> tuple[str, ...]:
        """Leaves carrying a value under no path that was read."""
        out = []
        for leaf, value in leaf_paths(self.doc):
            bare = leaf.split("[", 1)[0]
            if any(bare == r or bare.startswith(r + ".") or leaf.startswith(r + "[") for r in self.read):
                continue
            if value is False or (not isinstance(value, (dict, list)) and value in placeholders):
                continue
            out.append(self.where(leaf))
        return tuple(out)


def passport_uuid(raw: object) -> str | None:
    """A passport identifier as ``urn:uuid:...`` (None when absent or the nil UUID)."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        value = uuid.UUID(raw.removeprefix("urn:uuid:"))
    except ValueError:
        return None
    return None if value.int == 0 else f"urn:uuid:{value}"
