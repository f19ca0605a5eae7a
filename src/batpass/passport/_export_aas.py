"""Export to an Asset Administration Shell V3.1 environment — one mapping table.

Built with basyx-python-sdk. One shell per battery (``globalAssetId`` = the battery's GS1
Digital Link URI, ``specificAssetIds`` GTIN, serial and the model as ``manufacturerPartId``) and
one submodel ``BatteryPassport`` with one collection per access tier (``Public``,
``LegitimateInterest``, ``Authorities``, ``Dynamic``), so a registry can hand out tiers
separately; ``_importers.read_aas`` reads it back. Mapping (:data:`KIND_MAPPING`):

==============  ===========================================================================
batpass kind    AAS element
==============  ===========================================================================
text            Property xs:string
url             Property xs:anyURI
integer         Property xs:integer (qualifier ``batpass:unit`` when the data point has a unit)
quantity        Property xs:double with qualifier ``batpass:unit`` (the data point's unit)
date            Property xs:date
texts           SubmodelElementList of Property xs:string
records         SubmodelElementList of Property xs:string, each a JSON object (flat record)
mapping         Property xs:string holding the JSON object
==============  ===========================================================================

idShorts are the batpass keys in lowerCamelCase (AASd-002). Every element carries the data
point's label as description (en). The passport's own UUID is the shell and submodel id base.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import json as aas_json

from batpass.passport.model import ALL_TIERS, FIELDS, FIELDS_BY_KEY, Kind, Passport, Quantity, Tier

__all__ = [
    "KIND_MAPPING",
    "SUBMODEL_SEMANTIC_ID",
    "UNIT_QUALIFIER",
    "read_element",
    "short_to_key",
    "to_aas",
    "to_aas_json",
]

SUBMODEL_SEMANTIC_ID = "https://batpass.dev/semantics/passport/annex-xiii/1.0"
UNIT_QUALIFIER = "batpass:unit"
KIND_MAPPING: Mapping[Kind, str] = {
    Kind.TEXT: "Property xs:string",
    Kind.URL: "Property xs:anyURI",
    Kind.INTEGER: "Property xs:integer",
    Kind.QUANTITY: "Property xs:double + qualifier batpass:unit",
    Kind.DATE: "Property xs:date",
    Kind.TEXTS: "SubmodelElementList of Property xs:string",
    Kind.RECORDS: "SubmodelElementList of Property xs:string (JSON object each)",
    Kind.MAPPING: "Property xs:string (JSON object)",
}
_TIER_SHORT = {
    Tier.PUBLIC: "Public",
    Tier.LEGITIMATE_INTEREST: "LegitimateInterest",
    Tier.AUTHORITIES: "Authorities",
    Tier.DYNAMIC: "Dynamic",
}
_SHORT_TO_KEY = {}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


for _f in FIELDS:
    _SHORT_TO_KEY[_camel(_f.key)] = _f.key


def short_to_key(id_short: str) -> str | None:
    """The data point an element's idShort names (None: not one)."""
    return _SHORT_TO_KEY.get(id_short)


def _desc(text: str) -> model.MultiLanguageTextType:
    return model.MultiLanguageTextType({"en": text[:1023]})


def _element(key: str, value: Any) -> model.SubmodelElement:
    spec = FIELDS_BY_KEY[key]
    short = _camel(key)
    desc = _desc(f"{spec.label} ({spec.source})")
    quals = (
        [model.Qualifier(UNIT_QUALIFIER, model.datatypes.String, spec.unit)]
        if spec.unit and spec.kind in (Kind.QUANTITY, Kind.INTEGER)
        else []
    )
    if spec.kind is Kind.QUANTITY:
        assert isinstance(value, Quantity)
        return model.Property(short, model.datatypes.Double, value.value, description=desc, qualifier=quals)
    if spec.kind is Kind.INTEGER:
        return model.Property(short, model.datatypes.Integer, int(value), description=desc, qualifier=quals)
    if spec.kind is Kind.DATE:
        d = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        return model.Property(
            short, model.datatypes.Date, model.datatypes.Date(d.year, d.month, d.day), description=desc
        )
    if spec.kind is Kind.URL:
        return model.Property(short, model.datatypes.AnyURI, model.datatypes.AnyURI(str(value)), description=desc)
    if spec.kind is Kind.TEXT:
        return model.Property(short, model.datatypes.String, str(value), description=desc)
    if spec.kind is Kind.MAPPING:
        return model.Property(short, model.datatypes.String, json.dumps(value, sort_keys=True), description=desc)
    items = [str(v) for v in value] if spec.kind is Kind.TEXTS else [json.dumps(dict(v), sort_keys=True) for v in value]
    return model.SubmodelElementList(
        short,
        model.Property,
        value=[model.Property(None, model.datatypes.String, s) for s in items],
        value_type_list_element=model.datatypes.String,
        description=desc,
    )


def to_aas(passport: Passport, *, tiers: Iterable[Tier] = ALL_TIERS) -> model.DictIdentifiableStore[model.Identifiable]:
    """The AAS environment (shell + submodel) for the data points of ``tiers``."""
    return _environment(passport, _tier_elements(passport, tiers, _element))


def _tier_elements(passport: Passport, tiers: Iterable[Tier], make: Any) -> list[tuple[Tier, list[Any]]]:
    """Per tier of ``tiers`` (in :class:`Tier` order), ``make(key, value)`` of its data points."""
    allowed = frozenset(tiers)
    values = passport.field_values()
    return [
        (tier, [make(f.key, values[f.key]) for f in FIELDS if f.tier is tier and values.get(f.key) is not None])
        for tier in Tier
        if tier in allowed
    ]


def _environment(
    passport: Passport, tiers: Iterable[tuple[Tier, list[model.SubmodelElement]]]
) -> model.DictIdentifiableStore[model.Identifiable]:
    groups: list[model.SubmodelElement] = [
        model.SubmodelElementCollection(
            _TIER_SHORT[tier], value=elements, description=_desc(f"Access tier: {tier.value} (Annex XIII)")
        )
        for tier, elements in tiers
    ]
    sm = model.Submodel(
        id_=f"{passport.urn}/submodel/battery-passport",
        id_short="BatteryPassport",
        semantic_id=model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, SUBMODEL_SEMANTIC_ID),)),
        submodel_element=groups,
    )
    shell = model.AssetAdministrationShell(
        id_=passport.urn,
        id_short="BatteryPassportShell",
        asset_information=model.AssetInformation(
            asset_kind=model.AssetKind.INSTANCE,
            global_asset_id=passport.digital_link,
            specific_asset_id=(
                model.SpecificAssetId("gtin", str(passport.battery_id.gtin)),
                model.SpecificAssetId("serialNumber", str(passport.battery_id.serial)),
                model.SpecificAssetId("manufacturerPartId", passport.model_id),
            ),
        ),
        submodel={model.ModelReference.from_referable(sm)},
    )
    return model.DictIdentifiableStore([shell, sm])


#: each data point's element as basyx serialises it (plain JSON values), by key and value: a
#: fleet's passports share most of their data points (the model's), built and encoded once
_ELEMENT_JSON: dict[tuple[str, str, str], Any] = {}
_ELEMENT_JSON_MAX = 4096


def _element_json(key: str, value: Any) -> Any:
    """:func:`_element` as basyx's JSON encoder writes it, kept by the value's type and ``repr``
    (the data point values are strings, numbers, dates, quantities and tuples or mappings of
    those, whose ``repr`` tells every value apart)."""
    memo = (key, type(value).__name__, repr(value))
    got = _ELEMENT_JSON.get(memo)
    if got is None:
        got = json.loads(json.dumps(_element(key, value), cls=aas_json.AASToJsonEncoder))
        if len(_ELEMENT_JSON) >= _ELEMENT_JSON_MAX:
            _ELEMENT_JSON.clear()
        _ELEMENT_JSON[memo] = got
    return got


def to_aas_json(passport: Passport, *, tiers: Iterable[Tier] = ALL_TIERS) -> str:
    """The AAS environment as basyx serialises :func:`to_aas` (compact: without indentation the
    standard library's C encoder does the work), byte for byte. The shell and the submodel with
    its tier collections are built and encoded by basyx without their elements; each element's
    JSON is the one kept for its data point and value (:func:`_element_json`), placed where
    basyx places a collection's elements (its last member, ``value``, absent when empty)."""
    per_tier = _tier_elements(passport, tiers, _element_json)
    doc = json.loads(aas_json.object_store_to_json(_environment(passport, [(tier, []) for tier, _ in per_tier])))
    (submodel,) = doc["submodels"]
    for group, (_tier, elements) in zip(submodel.get("submodelElements", ()), per_tier, strict=True):
        if elements:
            group["value"] = elements
    return json.dumps(doc)


def read_element(key: str, el: model.SubmodelElement) -> Any:
    spec = FIELDS_BY_KEY[key]
    if isinstance(el, model.SubmodelElementList):
        items = [str(p.value) for p in el.value if isinstance(p, model.Property)]
        return tuple(items) if spec.kind is Kind.TEXTS else tuple(json.loads(s) for s in items)
    assert isinstance(el, model.Property)
    v = el.value
    if spec.kind is Kind.QUANTITY:
        return Quantity(float(v), spec.unit or "")
    if spec.kind is Kind.INTEGER:
        return int(v)
    if spec.kind is Kind.DATE:
        return dt.date(v.year, v.month, v.day)
    if spec.kind is Kind.MAPPING:
        return json.loads(str(v))
    return str(v)
