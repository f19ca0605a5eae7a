"""Catena-X Industry Core for this node's batteries over the connector, so Tractus-X tools (the
Item Relationship Service and the like) can traverse batpass nodes.

Three aspects, mapped from the passport (what the part is) and the ledger (what it was built
from and who received it), each validated against its bundled schema (eclipse-tractusx
sldt-semantic-models, ``gen/*-schema.json``):

- ``io.catenax.serial_part:4.0.0`` (asset ``cx-serial-part``): the battery as a serialised part:
  its ``globalAssetId`` (the twin's), its local identifiers (``manufacturerId`` the operator's
  BPNL, ``partInstanceId`` the GS1 serial), the model as part type and the manufacturing date
  and country (Annex XIII 1(b)).
- ``io.catenax.single_level_usage_as_built:4.0.0`` (asset ``cx-usage-as-built``): one level up:
  the customers (BPNLs) that received it (a shipment in the ledger) — none for a battery still
  with its maker.
- ``io.catenax.single_level_bom_as_built:4.0.0`` (asset ``cx-bom-as-built``): one level down: the
  lots of the direct suppliers it was built from (the ledger's receipts crossing the partition
  boundary), each by the ``globalAssetId`` its supplier gives the lot's twin
  (:func:`lot_asset_id`), the supplier's BPNL and the mass received. It names one tier of
  suppliers, and batpass's rule is that suppliers stay undisclosed unless the company releases
  them: it is served only to a partner this node released it to (:class:`BomReleases`,
  ``PUT /v1/connector/industry-core/bom-releases/{bpnl}``); the default is none, and an
  unreleased partner gets the same 404 as for what does not exist.

Each asset is offered under ``Membership``, ``FrameworkAgreement`` and ``UsagePurpose isAnyOf
cx.core.industrycore:1`` (CX-0152) and entitled like the battery pass: only to a partner the
battery's twin names. The twin registry itself is offered too (asset ``digital-twin-registry``,
``dct:type`` ``cx-taxo:DigitalTwinRegistry``, purpose ``cx.core.digitalTwinRegistry:1``), as a
proxy: ``GET shell-descriptors/{id}``, ``shell-descriptors/{id}/submodel-descriptors`` and
``lookup/shells?assetIds=`` through the data plane answer with what the consumer's BPNL may see
— the way IRS reaches a partner's registry, through the partner's connector.

Composition-level: joins the passport and ledger (content) with the connector and registry
(transport, visibility).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import jsonschema  # type: ignore[import-untyped]
import pycountry
from sqlalchemy import Column, Engine, PrimaryKeyConstraint, String, Table, delete, insert, select

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import InvalidInput, NotFound
from batpass.core.ids import BatteryId
from batpass.dataspace import (
    Asset,
    DataPlaneReply,
    DspProvider,
    OfferDefinition,
    Reader,
    TwinRegistry,
)
from batpass.exchange._assets import (
    FRAMEWORK_AGREEMENT,
    _battery,
    _entitled,
    _submodel,
    _twin_id,
    battery_twin,
)
from batpass.ledger import LedgerService
from batpass.passport import Passport, PassportService
from batpass.store import UnitOfWork
from batpass.store.metadata import UTCDateTime, metadata

__all__ = [
    "BOM_AS_BUILT_ASSET",
    "BOM_AS_BUILT_SEMANTIC_ID",
    "DTR_ASSET",
    "INDUSTRY_CORE_PURPOSE",
    "SERIAL_PART_ASSET",
    "SERIAL_PART_SEMANTIC_ID",
    "USAGE_AS_BUILT_ASSET",
    "USAGE_AS_BUILT_SEMANTIC_ID",
    "BomReleases",
    "IndustryCore",
    "RegistryProxy",
    "bom_releases_table",
    "industry_core_twin",
    "install_industry_core_offers",
    "lot_asset_id",
    "lot_twin",
    "validate_aspect",
]

SERIAL_PART_SEMANTIC_ID = "urn:samm:io.catenax.serial_part:4.0.0#SerialPart"
USAGE_AS_BUILT_SEMANTIC_ID = "urn:samm:io.catenax.single_level_usage_as_built:4.0.0#SingleLevelUsageAsBuilt"
BOM_AS_BUILT_SEMANTIC_ID = "urn:samm:io.catenax.single_level_bom_as_built:4.0.0#SingleLevelBomAsBuilt"
SERIAL_PART_ASSET = "cx-serial-part"
USAGE_AS_BUILT_ASSET = "cx-usage-as-built"
BOM_AS_BUILT_ASSET = "cx-bom-as-built"
DTR_ASSET = "digital-twin-registry"
INDUSTRY_CORE_PURPOSE = "cx.core.industrycore:1"
DTR_PURPOSE = "cx.core.digitalTwinRegistry:1"
_TAXONOMY = "https://w3id.org/catenax/taxonomy#"
_BPNL = re.compile(r"^BPNL[0-9A-Z]{12}$")
_RULE_BOM = "Industry Core: SingleLevelBomAsBuilt only to partners it is released to"

#: asset → (semantic id, bundled schema file, description)
_ASPECTS: dict[str, tuple[str, str, str]] = {
    SERIAL_PART_ASSET: (SERIAL_PART_SEMANTIC_ID, "catenax-serial_part-4.0.0.schema.json", "the battery as a part"),
    USAGE_AS_BUILT_ASSET: (
        USAGE_AS_BUILT_SEMANTIC_ID,
        "catenax-single_level_usage_as_built-4.0.0.schema.json",
        "one level up: who received it",
    ),
    BOM_AS_BUILT_ASSET: (
        BOM_AS_BUILT_SEMANTIC_ID,
        "catenax-single_level_bom_as_built-4.0.0.schema.json",
        "one level down: the direct suppliers' lots it was built from (released partners only)",
    ),
}

bom_releases_table = Table(
    "cx_bom_releases",
    metadata,
    Column("partner_bpnl", String(16), nullable=False),
    Column("released_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("partner_bpnl", name="pk_cx_bom_releases"),
)


@functools.cache
def _schema(asset_id: str) -> Any:
    name = _ASPECTS[asset_id][1]
    return json.loads(files("batpass.exchange").joinpath("_data", name).read_text("utf-8"))


def validate_aspect(asset_id: str, doc: Any) -> None:
    """Check ``doc`` against the bundled schema of ``asset_id``'s aspect; a failure is ours (a
    mapping defect), so it raises rather than serving an invalid aspect."""
    jsonschema.validate(doc, _schema(asset_id))


def lot_asset_id(owner: str, lot: str) -> str:
    """The ``globalAssetId`` of ``owner``'s lot: a name-based UUID every batpass node computes the
    same way, so a customer's BomAsBuilt names the twin its supplier registers."""
    return _twin_id("lot-asset", f"{owner}\n{lot}")


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _alpha3(place: Any) -> str | None:
    """The ISO 3166 alpha-3 code of a place written ``"City, CC"`` (the passport's manufacturing place)."""
    if not isinstance(place, str) or "," not in place:
        return None
    country = pycountry.countries.get(alpha_2=place.rsplit(",", 1)[1].strip().upper())
    return str(country.alpha_3) if country is not None else None


def _date(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return value[:10]
    return None


# -- the release of the bill of material ------------------------------------------------------


class BomReleases:
    """The partners (BPNLs) this node released its SingleLevelBomAsBuilt to: one row each."""

    def __init__(self, engine: Engine, *, clock: Clock = SystemClock()) -> None:
        self.engine = engine
        self.clock = clock

    @staticmethod
    def _check(bpnl: str) -> str:
        if not _BPNL.match(bpnl):
            raise InvalidInput(f"'{bpnl}' is not a BPNL", field="bpnl", rule="Catena-X BPNL (CX-0010)", value=bpnl)
        return bpnl

    def release(self, bpnl: str) -> dict[str, Any]:
        """Release the bill of material to ``bpnl`` (idempotent)."""
        self._check(bpnl)
        with UnitOfWork(self.engine) as uow:
            t = bom_releases_table
            row = uow.conn.execute(select(t.c.released_at).where(t.c.partner_bpnl == bpnl)).first()
            at = row[0] if row is not None else self.clock.now()
            if row is None:
                uow.conn.execute(insert(t).values(partner_bpnl=bpnl, released_at=at))
            uow.commit()
        return {"partner": bpnl, "releasedAt": _stamp(at)}

    def revoke(self, bpnl: str) -> None:
        """Take the release back; a partner never released is a 404."""
        self._check(bpnl)
        with UnitOfWork(self.engine) as uow:
            gone = uow.conn.execute(
                delete(bom_releases_table).where(bom_releases_table.c.partner_bpnl == bpnl)
            ).rowcount
            if not gone:
                raise NotFound(f"the bill of material is not released to {bpnl}", field="bpnl", rule=_RULE_BOM)
            uow.commit()

    def list(self) -> list[dict[str, Any]]:
        t = bom_releases_table
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(select(t.c.partner_bpnl, t.c.released_at).order_by(t.c.partner_bpnl)).all()
        return [{"partner": r[0], "releasedAt": _stamp(r[1])} for r in rows]

    def released(self, bpnl: str | None) -> bool:
        if not bpnl:
            return False
        t = bom_releases_table
        with UnitOfWork(self.engine, write=False) as uow:
            return uow.conn.execute(select(t.c.partner_bpnl).where(t.c.partner_bpnl == bpnl)).first() is not None


# -- twins ------------------------------------------------------------------------------------


def industry_core_twin(
    battery: BatteryId, *, model_id: str, base_url: str, dsp_url: str, readers: Iterable[str]
) -> dict[str, Any]:
    """The battery's shell descriptor (:func:`battery_twin`: battery pass) with the Industry Core
    submodel descriptors (SerialPart, SingleLevelUsageAsBuilt, SingleLevelBomAsBuilt), each
    pointing at its connector asset (``subprotocolBody: id=<asset>;dspEndpoint=<DSP URL>``) and
    at the data-plane pull naming the battery."""
    twin = battery_twin(battery, model_id=model_id, base_url=base_url, dsp_url=dsp_url, readers=list(readers))
    key = str(battery)
    href = f"{base_url.rstrip('/')}/api/public?battery={quote(key, safe='')}"
    for asset_id, (semantic_id, _, _) in _ASPECTS.items():
        twin["submodelDescriptors"].append(_submodel(f"battery-{asset_id}", key, semantic_id, asset_id, dsp_url, href))
    return twin


def lot_twin(
    lot: str, *, owner: str, material: str, base_url: str, dsp_url: str, readers: Iterable[str]
) -> dict[str, Any]:
    """The shell descriptor of one of this node's lots (a batch: ``digitalTwinType``
    ``PartInstance``, ``batchId`` the lot id, ``manufacturerPartId`` the material, visible to
    ``readers`` only) with its SingleLevelUsageAsBuilt and SingleLevelBomAsBuilt submodels; its
    ``globalAssetId`` is :func:`lot_asset_id`, the id its customers' bills of material name."""
    who = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": r} for r in readers]}
    href = f"{base_url.rstrip('/')}/api/public?lot={quote(lot, safe='')}"
    return {
        "id": _twin_id("lot", lot),
        "idShort": "lot",
        "globalAssetId": lot_asset_id(owner, lot),
        "assetKind": "Instance",
        "specificAssetIds": [
            {"name": "manufacturerPartId", "value": material, "externalSubjectId": who},
            {"name": "batchId", "value": lot, "externalSubjectId": who},
            {"name": "digitalTwinType", "value": "PartInstance", "externalSubjectId": who},
        ],
        "submodelDescriptors": [
            _submodel(f"lot-{asset_id}", lot, semantic_id, asset_id, dsp_url, href)
            for asset_id, (semantic_id, _, _) in _ASPECTS.items()
            if asset_id != SERIAL_PART_ASSET
        ],
    }


# -- provider side ----------------------------------------------------------------------------


def _offer(asset_id: str, purpose: str) -> OfferDefinition:
    membership = {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
    framework = {"leftOperand": "FrameworkAgreement", "operator": "eq", "rightOperand": FRAMEWORK_AGREEMENT}
    usage = {"leftOperand": "UsagePurpose", "operator": "isAnyOf", "rightOperand": [purpose]}
    return OfferDefinition(
        id=f"{asset_id}:industrycore",
        asset_id=asset_id,
        access_policy={"permission": [{"action": "access", "constraint": [{"and": [membership]}]}]},
        usage_policy={"permission": [{"action": "use", "constraint": [{"and": [membership, framework, usage]}]}]},
    )


#: a supplier's BPNL from its DID (None when this node knows none)
BpnlOf = Callable[[str], Awaitable[str | None]]


class IndustryCore:
    """The ``QueryAssetSource`` of the three Industry Core assets (``source_key`` is the asset
    id): the aspect of the battery named by ``?battery=``, for a consumer its twin names; the
    bill of material only for a partner it is released to."""

    def __init__(
        self,
        passports: PassportService,
        ledger: LedgerService,
        registry: TwinRegistry,
        releases: BomReleases,
        *,
        owner: str,
        bpnl_of: BpnlOf,
    ) -> None:
        self.passports = passports
        self.ledger = ledger
        self.registry = registry
        self.releases = releases
        self.owner = owner
        self.bpnl_of = bpnl_of

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput("an Industry Core aspect needs ?battery=ID", field="battery", rule="Industry Core asset")

    async def query_content(
        self,
        key: str,
        *,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
        query: Mapping[str, str],
    ) -> Any:
        if "lot" in query and "battery" not in query:
            return await self._lot_content(key, consumer_bpnl, query["lot"])
        raw = query.get("battery", "")
        if not raw or len(raw) > 512:
            raise InvalidInput(
                "the pull needs ?battery=ID or ?lot=ID", field="battery", rule="Industry Core asset query"
            )
        battery = _battery(raw)
        hidden = NotFound(f"no {key} of {battery} for you", field="battery", rule="Industry Core: twins naming you")
        if not _entitled(self.registry, _twin_id("battery", str(battery)), consumer_bpnl):
            raise hidden
        if key == BOM_AS_BUILT_ASSET and not self.releases.released(consumer_bpnl):
            raise NotFound(f"no {key} of {battery} for you", field="battery", rule=_RULE_BOM)
        return await self.aspect(key, battery)

    async def _lot_content(self, key: str, consumer_bpnl: str | None, lot: str) -> dict[str, Any]:
        if not lot or len(lot) > 128:
            raise InvalidInput("the pull needs ?lot=ID (at most 128)", field="lot", rule="Industry Core asset query")
        hidden = NotFound(f"no {key} of lot {lot} for you", field="lot", rule="Industry Core: twins naming you")
        if key == SERIAL_PART_ASSET or not _entitled(self.registry, _twin_id("lot", lot), consumer_bpnl):
            raise hidden  # a lot is a batch, not a serialised part
        if key == BOM_AS_BUILT_ASSET and not self.releases.released(consumer_bpnl):
            raise NotFound(f"no {key} of lot {lot} for you", field="lot", rule=_RULE_BOM)
        gid = lot_asset_id(self.owner, lot)
        created = _stamp(self.ledger.lot(self.owner, lot).produced_at)
        doc: dict[str, Any]
        if key == USAGE_AS_BUILT_ASSET:
            doc = {"globalAssetId": gid, "parentItems": [], "customers": await self._customers(lot)}
        else:
            doc = {"globalAssetId": gid, "childItems": await self._children(lot, created)}
        validate_aspect(key, doc)
        return doc

    async def aspect(self, asset_id: str, battery: BatteryId) -> dict[str, Any]:
        """The aspect ``asset_id`` of ``battery`` (no entitlement check), validated."""
        passport = self.passports.find_by_battery(battery)
        if passport is None:
            raise NotFound(f"no passport of {battery} on this node", field="battery", rule="Industry Core: passports")
        gid = _twin_id("battery-asset", str(battery))
        if asset_id == SERIAL_PART_ASSET:
            doc = self._serial_part(gid, passport)
        elif asset_id == USAGE_AS_BUILT_ASSET:
            doc = await self._usage(gid, passport)
        elif asset_id == BOM_AS_BUILT_ASSET:
            doc = await self._bom(gid, passport)
        else:
            raise NotFound(f"no Industry Core aspect '{asset_id}'", field="asset", rule="Industry Core assets")
        validate_aspect(asset_id, doc)
        return doc

    def _created(self, passport: Passport) -> str:
        return _stamp(self.passports.versions(passport.passport_id)[0].created_at)

    def _serial_part(self, gid: str, passport: Passport) -> dict[str, Any]:
        v = passport.values
        ids = [{"key": "partInstanceId", "value": str(passport.battery_id.serial)}]
        manufacturer = v.get("manufacturer_id")
        if isinstance(manufacturer, str) and manufacturer:
            ids.insert(0, {"key": "manufacturerId", "value": manufacturer})
        made: dict[str, Any] = {"productionDate": _date(v.get("manufacturing_date")) or self._created(passport)[:10]}
        country = _alpha3(v.get("manufacturing_place"))
        if country:
            made["country"] = country
        facility = v.get("manufacturing_facility")
        if isinstance(facility, str) and re.match(r"^BPNS[a-zA-Z0-9]{12}$", facility):
            made["sites"] = [{"siteId": facility, "function": "production"}]
        name = str(v.get("model_name") or passport.model_id)
        return {
            "globalAssetId": gid,
            "localIdentifiers": ids,
            "manufacturingInformation": made,
            "partTypeInformation": {
                "manufacturerPartId": passport.model_id,
                "nameAtManufacturer": name,
                # the battery is sold under the maker's own model: the customer's names are the maker's
                "customerPartId": passport.model_id,
                "nameAtCustomer": name,
                "partClassification": [
                    {
                        "standard": "Regulation (EU) 2023/1542 Art. 3 battery categories",
                        "id": str(passport.category),
                        "description": "battery category",
                    }
                ],
            },
        }

    async def _customers(self, lot: str) -> list[str]:
        """The BPNLs of the owners ``lot`` was shipped to."""
        customers: list[str] = []
        for c in self.ledger.customers_of(self.owner, [lot]):
            bpnl = await self.bpnl_of(c.customer)
            if bpnl and bpnl not in customers:
                customers.append(bpnl)
        return customers

    async def _usage(self, gid: str, passport: Passport) -> dict[str, Any]:
        try:
            lot = self.ledger.resolve_subject(self.owner, passport.digital_link)
        except NotFound:
            return {"globalAssetId": gid, "parentItems": [], "customers": []}
        return {"globalAssetId": gid, "parentItems": [], "customers": await self._customers(str(lot.id))}

    async def _bom(self, gid: str, passport: Passport) -> dict[str, Any]:
        try:
            self.ledger.resolve_subject(self.owner, passport.digital_link)
        except NotFound:
            return {"globalAssetId": gid, "childItems": []}
        return {
            "globalAssetId": gid,
            "childItems": await self._children(passport.digital_link, self._created(passport)),
        }

    async def _children(self, subject: str, created: str) -> list[dict[str, Any]]:
        """The direct suppliers' lots of ``subject`` (a battery or lot): its local trace ends at
        the lots received from other owners (its boundaries); each receipt names the supplier
        and the supplier's dispatched lot, and the mass is what the receipt lot gave on the way."""
        trace = self.ledger.trace(self.owner, subject, direction="up")
        given: dict[str, float] = {}
        for e in trace["edges"]:
            given[str(e["parent"])] = given.get(str(e["parent"]), 0.0) + float(e["input_kg"] or 0.0)
        boundary = [str(b["lot"]) for b in trace.get("boundaries", [])]
        kg: dict[tuple[str, str], float] = {}
        for r in self.ledger.suppliers_of(self.owner, boundary):
            k = (r.supplier, str(r.supplier_lot))
            # the subject itself received (no edge below it): the received lot's whole mass
            mass = given.get(str(r.lot)) or float(self.ledger.lot(self.owner, str(r.lot)).mass_kg)
            kg[k] = kg.get(k, 0.0) + mass
        children: list[dict[str, Any]] = []
        for (supplier, lot), mass in sorted(kg.items()):
            bpnl = await self.bpnl_of(supplier)
            if bpnl is None:
                raise NotFound(
                    f"the BPNL of supplier {supplier} is unknown to this node",
                    field="supplier",
                    rule="Industry Core: BomAsBuilt names each supplier by BPNL (BPN-DID directory)",
                )
            children.append(
                {
                    "globalAssetId": lot_asset_id(supplier, lot),
                    "businessPartner": bpnl,
                    "quantity": {"value": round(mass, 6), "unit": "unit:kilogram"},
                    "hasAlternatives": False,
                    "createdOn": created,
                    "lastModifiedOn": created,
                }
            )
        return children


def _decoded(encoded: str) -> str:
    """An identifier in a registry path: UTF-8 base64url (AAS API Part 2, "Encoding")."""
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except ValueError as exc:
        raise InvalidInput(
            f"'{encoded[:100]}' is not base64url-encoded UTF-8", field="aasIdentifier", rule="AAS API: base64url ids"
        ) from exc


class RegistryProxy:
    """The ``ProxyAssetSource`` of ``digital-twin-registry``: the AAS registry reads a consumer
    sends through the data plane, answered with what its BPNL (verified at negotiation) may see."""

    def __init__(self, registry: TwinRegistry) -> None:
        self.registry = registry

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput(
            "the registry asset answers GET <data plane>/shell-descriptors/{id} or /lookup/shells",
            field="path",
            rule="AAS Registry API v3 (read subset)",
        )

    async def proxy(
        self,
        key: str,
        *,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
    ) -> DataPlaneReply:
        reader = Reader(bpnl=consumer_bpnl)
        parts = [p for p in path.strip("/").split("/") if p]
        if method != "GET":
            raise InvalidInput("the registry asset is read-only", field="method", rule="DTR asset: GET only")
        if parts[:1] == ["api"] and parts[1:2] == ["v3"]:  # the registry's own prefix, if the consumer keeps it
            parts = parts[2:]
        if parts == ["lookup", "shells"]:
            links = TwinRegistry.parse_asset_ids_query([query["assetIds"]] if query.get("assetIds") else [])
            return DataPlaneReply(200, self.registry.lookup(links, reader, limit=None, cursor=query.get("cursor")))
        if len(parts) in (2, 3) and parts[0] == "shell-descriptors":
            shell = self.registry.get_shell(_decoded(parts[1]), reader)
            if len(parts) == 2:
                return DataPlaneReply(200, shell)
            if parts[2] == "submodel-descriptors":
                return DataPlaneReply(200, {"paging_metadata": {}, "result": shell.get("submodelDescriptors", [])})
        raise NotFound(f"no registry resource '{path[:200]}'", field="path", rule="AAS Registry API v3 (read subset)")


def install_industry_core_offers(provider: DspProvider, source: IndustryCore, registry: RegistryProxy) -> None:
    """Register the three Industry Core assets and the registry asset with their offers; idempotent."""
    for asset_id, (semantic_id, _, description) in _ASPECTS.items():
        provider.register_source(asset_id, source)
        provider.register_asset(
            Asset(
                id=asset_id,
                source=asset_id,
                source_key=asset_id,
                title=semantic_id.rsplit("#", 1)[-1],
                properties={
                    "dct:type": _TAXONOMY + "Submodel",
                    "semanticId": semantic_id,
                    "description": f"{semantic_id.split('#')[0][9:]} of a battery (?battery=ID): {description}",
                },
            )
        )
        provider.register_offer(_offer(asset_id, INDUSTRY_CORE_PURPOSE))
    provider.register_source(DTR_ASSET, registry)
    provider.register_asset(
        Asset(
            id=DTR_ASSET,
            source=DTR_ASSET,
            source_key=DTR_ASSET,
            title="Digital twin registry",
            properties={
                "dct:type": _TAXONOMY + "DigitalTwinRegistry",
                "description": "AAS Registry API v3 (read): shell-descriptors, lookup/shells",
            },
        )
    )
    provider.register_offer(_offer(DTR_ASSET, DTR_PURPOSE))
