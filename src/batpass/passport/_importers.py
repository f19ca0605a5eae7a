"""Read a passport document of any supported format: the one entry of ``passport import``.

``read_import(fmt, files)`` takes the document as named byte strings (one file, a folder's
files, a multipart upload) and answers an :class:`ImportedPassport` or raises
:class:`~batpass.core.errors.InvalidInput` naming the field and the rule — for any input, never
another exception (a foreign library's error is re-raised as ours). Formats:

- ``catenax``: one ``io.catenax.battery.battery_pass:6.1.0`` JSON document;
- ``batterypass``: one JSON object keyed by module, or module documents named after their module;
- ``aas``: an AAS V3 JSON environment or an ``.aasx`` package (basyx-python-sdk), as
  :func:`batpass.passport._export_aas.to_aas` writes it (one submodel ``BatteryPassport``).
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter import json as aas_json

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.core.unicode import check_scalar_text
from batpass.passport._export_aas import UNIT_QUALIFIER, read_element, short_to_key
from batpass.passport._export_batterypass import MODULES
from batpass.passport._import import FORMATS, ImportedPassport, Source, passport_uuid
from batpass.passport._import_batterypass import decode_document, module_of, read_batterypass
from batpass.passport._import_catenax import read_catenax
from batpass.passport.model import FIELDS_BY_KEY, Category, Status, value_to_json

__all__ = ["FORMATS", "ImportedPassport", "read_import"]

#: a package's JSON part larger than this is left to basyx unchecked here (the body limit bounds it)
_MAX_PART = 64 * 1024 * 1024
_AAS_RULE = "AAS V3.1 environment as batpass exports it (submodel BatteryPassport)"
#: data points the AAS export carries that batpass sets itself (read for the battery, not as input)
_DERIVED = frozenset(k for k, f in FIELDS_BY_KEY.items() if f.derived)
#: derived data points an import keeps: the origin the document states (Annex XIII (1)(c))
_KEPT = frozenset({"material_origin"})
#: derived data points that name the passport itself (read for the battery, status and links)
_IDENTITY = frozenset(
    {
        "passport_id",
        "battery_id",
        "status",
        "category",
        "economic_operator",
        "backup_node",
        "predecessors",
        "successors",
        "dynamic_updated_at",
    }
)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(
            f"format: '{fmt}' is not one of {', '.join(FORMATS)}", field="format", rule="passport import formats"
        )


def read_import(fmt: str, files: Sequence[tuple[str, bytes]]) -> ImportedPassport:
    """The passport the ``files`` (name, content) of format ``fmt`` describe."""
    _check_format(fmt)
    if not files:
        raise InvalidInput("file: no document given", field="file", rule="passport import")
    try:
        if fmt == "batterypass":
            if len(files) == 1:
                doc = decode_document(files[0][1], name=files[0][0])
                if isinstance(doc, Mapping) and doc and not set(doc) - set(MODULES):
                    return read_batterypass(doc)
            docs: dict[str, Any] = {}
            for name, raw in files:
                module = module_of(name)
                if module in docs:
                    raise InvalidInput(
                        f"{name}: a second {module} document", field=name, rule="one document per module"
                    )
                docs[module] = decode_document(raw, name=name)
            return read_batterypass(docs)
        if len(files) != 1:
            raise InvalidInput(f"file: {fmt} is one document, {len(files)} given", field="file", rule="passport import")
        name, raw = files[0]
        if fmt == "catenax":
            return read_catenax(decode_document(raw, name=name))
        return read_aas(raw, name=name)
    except RecursionError as exc:
        raise InvalidInput("file: the document nests too deeply", field="file", rule="passport import") from exc


def _scalar_text(text: str | bytes, field: str) -> None:
    """Refuse JSON text whose escapes spell a lone surrogate (RFC 8259 §8.2), naming the member
    under ``field``, before basyx reads it: basyx keeps such text (no store can write it) or fails
    on it under its own rule. Text that is not JSON is left to basyx, which names its rule."""
    try:
        doc = json.loads(text)
    except ValueError:
        return
    check_scalar_text(doc, field=field)


def _aasx_json_parts(raw: bytes, name: str) -> None:
    """An ``.aasx`` package may carry its environment as JSON parts: each is checked as above,
    named ``<file>/<part>`` (an XML part cannot hold a lone surrogate: XML 1.0 §2.2)."""
    with contextlib.suppress(zipfile.BadZipFile, OSError, ValueError), zipfile.ZipFile(io.BytesIO(raw)) as package:
        for part in package.infolist():
            if part.filename.lower().endswith(".json") and part.file_size <= _MAX_PART:
                _scalar_text(package.read(part), f"{name}/{part.filename.lstrip('/')}")


def _environment(raw: bytes, name: str) -> model.DictIdentifiableStore[model.Identifiable]:
    if raw[:4] == b"PK\x03\x04":  # an .aasx package (OPC, a zip)
        _aasx_json_parts(raw, name)
        store: model.DictIdentifiableStore[model.Identifiable] = model.DictIdentifiableStore()
        try:
            with aasx.AASXReader(io.BytesIO(raw), failsafe=False) as reader:
                reader.read_into(store, aasx.DictSupplementaryFileContainer())  # type: ignore[no-untyped-call]
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile, OSError) as exc:
            raise InvalidInput(
                f"{name}: not an AASX package of an AAS V3 environment ({exc})", field=name, rule=_AAS_RULE
            ) from exc
        return store
    with contextlib.suppress(UnicodeDecodeError):
        _scalar_text(raw.decode("utf-8-sig"), name)
    try:
        text = raw.decode("utf-8-sig")
        env: model.DictIdentifiableStore[model.Identifiable] = aas_json.read_aas_json_file(
            io.StringIO(text), failsafe=False
        )
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{name}: not an AAS V3 JSON environment ({exc})", field=name, rule=_AAS_RULE) from exc
    return env


def read_aas(raw: bytes, *, name: str) -> ImportedPassport:
    """The passport of an AAS environment (JSON or ``.aasx``) with a ``BatteryPassport`` submodel."""
    store = _environment(raw, name)
    shells = [o for o in store if isinstance(o, model.AssetAdministrationShell)]
    subs = [o for o in store if isinstance(o, model.Submodel) and o.id_short == "BatteryPassport"]
    if len(subs) != 1 or len(shells) != 1:
        raise InvalidInput(
            f"{name}: expected one shell and one submodel 'BatteryPassport', found {len(shells)} and {len(subs)}",
            field="submodels",
            rule=_AAS_RULE,
        )
    shell = shells[0]
    ids = {s.name: s.value for s in shell.asset_information.specific_asset_id}
    try:
        if "gtin" in ids and "serialNumber" in ids:
            battery = BatteryId(ids["gtin"], ids["serialNumber"])
        else:
            battery = BatteryId.parse(shell.asset_information.global_asset_id or "")
    except InvalidInput as exc:
        raise InvalidInput(
            f"assetInformation: no battery identifier ({exc.message})", field="assetInformation", rule=_AAS_RULE
        ) from exc
    raw_values: dict[str, Any] = {}
    ignored: list[str] = []
    src = Source({}, rule=_AAS_RULE, prefix="BatteryPassport")
    for group in subs[0].submodel_element:
        if not isinstance(group, model.SubmodelElementCollection):
            continue
        for el in group.value:
            path = f"{group.id_short}.{el.id_short}"
            key = short_to_key(str(el.id_short))
            if key is None:
                raise src.bad(path, "not a data point of the passport (docs/passport.md)")
            spec = FIELDS_BY_KEY[key]
            unit = next((q.value for q in getattr(el, "qualifier", ()) if q.type == UNIT_QUALIFIER), None)
            if unit is not None and unit != spec.unit:
                raise src.bad(path, f"given in '{unit}', {key} is held in '{spec.unit}' (no conversion is assumed)")
            try:
                value = read_element(key, el)
            except (ValueError, TypeError, AttributeError, AssertionError) as exc:
                raise src.bad(path, f"cannot be read as {spec.kind.value}: {exc}") from exc
            raw_values[key] = value
            if key not in _DERIVED or key in _KEPT:
                src.put(path, key, value_to_json(value))
            elif key not in _IDENTITY:
                ignored.append(f"BatteryPassport.{path}")
    try:
        category = Category(str(raw_values.get("category", "")))
        status = Status(str(raw_values.get("status", Status.ORIGINAL.value)))
    except ValueError as exc:
        raise src.bad("Public.category", f"category or status not a batpass value ({exc})") from exc
    updated = raw_values.get("dynamic_updated_at")
    return ImportedPassport(
        format="aas",
        battery=battery,
        category=category,
        model_id=str(ids.get("manufacturerPartId") or raw_values.get("model_name") or battery.gtin),
        status=status,
        values=src.values,
        dynamic=src.dynamic,
        dynamic_at=updated if src.dynamic else None,
        source_id=passport_uuid(shell.id),
        ignored=tuple(ignored),
    )
