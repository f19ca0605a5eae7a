"""The EU's indicative, non-exhaustive list of conflict-affected and high-risk areas (CAHRA,
Reg. (EU) 2017/821 Art. 14(2)) as data, in the JSON form the list's website publishes (pure).

The form (docs/sites.md "CAHRA data sets"): a ``version`` record with ``data_updated`` and
``reports_updated`` dates, and ``countries``, one object per country (``code`` ISO 3166-1
alpha-3, ``name``) with its ``reports`` (``title``, ``created``, ``updated``,
``is_country_level``) each listing ``included_regions`` (``name``, ``code`` ISO 3166-2,
``conflict_affected``, ``high_risk``). A report with ``is_country_level`` designates the whole
country. A document of any other form is refused with the reason (the member and the rule), so a
changed publication never screens silently against nothing.

The data set's name is the document's ``name`` where it has one (the synthetic sample says it is
synthetic), else the name given to the loader; its version is ``version.data_updated``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycountry

from batpass.core.errors import InvalidInput
from batpass.sites.model import ENHANCED_DUE_DILIGENCE, NOT_LISTED, Screening, is_subdivision

__all__ = ["EU_LIST", "SAMPLE_PATH", "CahraDataset", "CahraRegion", "load_cahra", "parse_cahra"]

#: the synthetic sample in the published form (labelled synthetic; region codes only)
SAMPLE_PATH = Path(__file__).resolve().parent / "_data" / "cahra-synthetic-sample.json"

#: the default name of a data set that does not name itself
EU_LIST = "eu-indicative-cahra-list"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_FORM = "EU CAHRA list JSON form (docs/sites.md 'CAHRA data sets')"


@dataclass(frozen=True, slots=True)
class CahraRegion:
    code: str  # ISO 3166-2, or ISO 3166-1 alpha-2 for a whole-country designation
    name: str
    conflict_affected: bool
    high_risk: bool


@dataclass(frozen=True, slots=True)
class CahraDataset:
    """A loaded CAHRA list: its name, version and listed regions (by ISO 3166-2 code) and
    whole-country designations (by ISO 3166-1 alpha-2)."""

    name: str
    version: str
    regions: Mapping[str, CahraRegion]
    countries: Mapping[str, CahraRegion]
    synthetic: bool = False

    @property
    def label(self) -> str:
        """``name@version``, as every finding records it."""
        return f"{self.name}@{self.version}"

    def screen(self, *, country: str, region: str) -> Screening:
        """The screening of a site in ``region`` of ``country``: flagged where the region, or the
        whole country, is listed; "not listed" otherwise (no clearance)."""
        hit = self.regions.get(region) or self.countries.get(country)
        if hit is None:
            return Screening(dataset=self.label, outcome=NOT_LISTED, region=region)
        return Screening(
            dataset=self.label,
            outcome=ENHANCED_DUE_DILIGENCE,
            region=region,
            conflict_affected=hit.conflict_affected,
            high_risk=hit.high_risk,
        )


def _refuse(message: str, field: str) -> InvalidInput:
    return InvalidInput(f"CAHRA data set of an unknown form: {message}", field=field, rule=_FORM)


def _member(obj: Any, key: str, kind: type | tuple[type, ...], path: str) -> Any:
    if not isinstance(obj, Mapping):
        raise _refuse(f"{path} is not an object", path)
    if key not in obj:
        raise _refuse(f"{path}.{key} is missing", f"{path}.{key}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _refuse(f"{path}.{key} has the wrong type", f"{path}.{key}")
    return value


def _day(value: str, path: str) -> str:
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise _refuse(f"{path} is not a date", path) from None


def parse_cahra(doc: Any, *, name: str = EU_LIST) -> CahraDataset:
    """A :class:`CahraDataset` from the published JSON form, or :class:`InvalidInput` saying why
    the document is not of that form."""
    version = _member(doc, "version", dict, "$")
    data_updated = _day(_member(version, "data_updated", str, "$.version"), "$.version.data_updated")
    countries = _member(doc, "countries", list, "$")
    regions: dict[str, CahraRegion] = {}
    whole: dict[str, CahraRegion] = {}
    for i, c in enumerate(countries):
        path = f"$.countries[{i}]"
        alpha3 = _member(c, "code", str, path)
        found = pycountry.countries.get(alpha_3=alpha3.upper())
        if found is None:
            raise _refuse(f"{path}.code '{alpha3}' is no ISO 3166-1 alpha-3 code", f"{path}.code")
        alpha2 = str(found.alpha_2)
        country_name = _member(c, "name", str, path)
        for j, r in enumerate(_member(c, "reports", list, path)):
            rpath = f"{path}.reports[{j}]"
            _member(r, "title", str, rpath)
            if _member(r, "is_country_level", bool, rpath):
                whole[alpha2] = CahraRegion(alpha2, country_name, conflict_affected=True, high_risk=True)
            for k, g in enumerate(_member(r, "included_regions", list, rpath)):
                gpath = f"{rpath}.included_regions[{k}]"
                code = _member(g, "code", str, gpath).upper()
                if not is_subdivision(code) or not code.startswith(alpha2 + "-"):
                    raise _refuse(f"{gpath}.code '{code}' is no ISO 3166-2 code of {alpha2}", f"{gpath}.code")
                regions[code] = CahraRegion(
                    code,
                    _member(g, "name", str, gpath),
                    conflict_affected=_member(g, "conflict_affected", bool, gpath),
                    high_risk=_member(g, "high_risk", bool, gpath),
                )
    own_name = doc.get("name") if isinstance(doc.get("name"), str) else None
    label_name = (own_name or name).strip()
    if not _NAME.match(label_name):
        raise InvalidInput(
            f"CAHRA data set name {label_name[:40]!r} is not a name", field="name", rule="1-128 of A-Z a-z 0-9 . _ -"
        )
    return CahraDataset(
        name=label_name,
        version=data_updated,
        regions=regions,
        countries=whole,
        synthetic=bool(doc.get("synthetic")),
    )


def load_cahra(path: Path, *, name: str = EU_LIST) -> CahraDataset:
    """:func:`parse_cahra` of a file (unreadable or non-JSON files are refused by name)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="file", rule="a readable file") from exc
    except json.JSONDecodeError as exc:
        raise _refuse(f"not JSON ({exc.msg} at line {exc.lineno})", "$") from exc
    return parse_cahra(doc, name=name)
