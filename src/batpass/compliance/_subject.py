"""A battery or battery model from its JSON description (the ``batpass comply`` input and the
``POST /v1/compliance/...`` body). Strict: an unknown field or a bad value is refused with
:class:`~batpass.core.errors.InvalidInput` naming the field (JSONPath-like, ``$.model.category``).

Input: a model ``{"model_id", "category", "capacity_kwh"?, "footprint"?: {"kg_co2e_per_kwh",
"stages": {stage: value|null}, ...}, "recycled"?: {metal: {"pre_consumer", "post_consumer", ...}},
...}`` — the fields of :class:`batpass.compliance.BatteryModel` — or a battery ``{"battery_id",
"model": {...}, ...}`` with the fields of :class:`batpass.compliance.Battery`. Decimals may be
given as strings or numbers; a stage given as ``null`` is "not provided".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from decimal import Decimal, InvalidOperation
from typing import Any

from batpass.compliance.model import Battery, BatteryModel, Category, FootprintDeclaration, RecycledShare
from batpass.core.errors import InvalidInput

__all__ = ["subject_from_json"]

_RULE = "a battery or battery model description (docs/compliance.md, batpass.compliance.model)"


def _dec(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise InvalidInput(f"{where} is not a number", field=where, rule=_RULE, value=value)
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{where} {value!r} is not a decimal", field=where, rule=_RULE, value=value) from exc
    if not out.is_finite():
        raise InvalidInput(f"{where} {value!r} is not finite", field=where, rule=_RULE, value=value)
    return out


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object", field=where, rule=_RULE)
    return value


def _fields(cls: type[Any], raw: dict[str, Any], where: str, required: tuple[str, ...]) -> None:
    # evidence and unknowns are what a node holds (GET /v1/passports/{id}/compliance), never described
    names = {f.name for f in dataclasses.fields(cls)} - {"evidence", "unknown"}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise InvalidInput(f"{where}.{unknown[0]}: unknown field", field=f"{where}.{unknown[0]}", rule=_RULE)
    for name in required:
        if raw.get(name) is None:
            raise InvalidInput(f"{where}.{name} is required", field=f"{where}.{name}", rule=_RULE)


def _footprint(raw: Any, where: str) -> FootprintDeclaration:
    fp = dict(_object(raw, where))
    _fields(FootprintDeclaration, fp, where, ("kg_co2e_per_kwh",))
    out: dict[str, Any] = dict(fp)
    out["kg_co2e_per_kwh"] = _dec(fp["kg_co2e_per_kwh"], f"{where}.kg_co2e_per_kwh")
    stages = _object(fp.get("stages", {}), f"{where}.stages")
    out["stages"] = {k: None if v is None else _dec(v, f"{where}.stages.{k}") for k, v in stages.items()}
    if fp.get("reference_period_end") is not None:
        try:
            out["reference_period_end"] = dt.date.fromisoformat(str(fp["reference_period_end"])[:10])
        except ValueError as exc:
            raise InvalidInput(
                "reference_period_end is not a date", field=f"{where}.reference_period_end", rule="YYYY-MM-DD"
            ) from exc
    for k in ("exempted_share", "primary_data_share"):
        if fp.get(k) is not None:
            out[k] = _dec(fp[k], f"{where}.{k}")
    return FootprintDeclaration(**out)


def _recycled(raw: Any, where: str) -> dict[str, RecycledShare]:
    shares: dict[str, RecycledShare] = {}
    for metal, r in _object(raw, where).items():
        at = f"{where}.{metal}"
        fields = dict(_object(r, at))
        _fields(RecycledShare, fields, at, ("pre_consumer", "post_consumer"))
        for k in ("pre_consumer", "post_consumer"):
            fields[k] = _dec(fields[k], f"{at}.{k}")
        shares[str(metal)] = RecycledShare(**fields)
    return shares


def _convert(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    required = tuple(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    _fields(cls, raw, where, required)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        hint = str(hints[key])
        at = f"{where}.{key}"
        if value is None:
            out[key] = None
        elif key == "model":
            out[key] = _convert(BatteryModel, _object(value, at), at)
        elif key == "category":
            try:
                out[key] = Category(value)
            except ValueError as exc:
                raise InvalidInput(
                    f"{at} {value!r} is not one of {[c.value for c in Category]}",
                    field=at,
                    rule="battery categories of Art. 3(1)",
                    value=value,
                ) from exc
        elif key == "footprint":
            out[key] = _footprint(value, at)
        elif key == "recycled":
            out[key] = _recycled(value, at)
        elif "frozenset" in hint:
            if not isinstance(value, list):
                raise InvalidInput(f"{at} must be a list", field=at, rule=_RULE)
            out[key] = frozenset(str(v) for v in value)
        elif "tuple" in hint:
            if not isinstance(value, list):
                raise InvalidInput(f"{at} must be a list", field=at, rule=_RULE)
            out[key] = tuple(value)
        elif "Decimal" in hint:
            out[key] = _dec(value, at)
        elif "bool" in hint and not isinstance(value, bool):
            raise InvalidInput(f"{at} must be true or false", field=at, rule=_RULE, value=value)
        elif "int" in hint and "bool" not in hint and not isinstance(value, int):
            raise InvalidInput(f"{at} must be an integer", field=at, rule=_RULE, value=value)
        else:
            out[key] = value
    return cls(**out)


def subject_from_json(raw: Any) -> Battery | BatteryModel:
    """A :class:`Battery` (``battery_id`` present) or :class:`BatteryModel` from its JSON form."""
    obj = _object(raw, "$")
    return _convert(Battery if "battery_id" in obj else BatteryModel, obj, "$")  # type: ignore[no-any-return]
