"""The console's footprint view (``/console/footprint``): for one passport of the node (in the
user's scope), its carbon footprint as the passport declares it — per kWh of lifetime energy and
per kWh of capacity, by Annex II stage, the absolute figure, with the basis of each — and the
footprint documents behind it that the node holds: the battery's own (its GTIN) and its
components' (every other product), each with the format it came in (PACT v2/v3, Catena-X PCF,
Ouranos CFP), the reference period, the figure per declared unit by stage and the primary data
share. Where the pack maker stated a per-kWh figure in the Annex II extension, its lifetime energy
and formula are shown too.

Every figure comes from the same functions as the API's: the passport's JSON view
(``PassportService.read``, as ``GET /v1/passports/{id}``) through ``footprint_block``, and the
node's PACT documents (``PactService``, as ``GET /pact/3/footprints``) read with
``batpass.footprint.read_pact``. The page computes nothing of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from batpass.accounts import AccountService
from batpass.core.errors import BatpassError
from batpass.footprint import PER_KWH_LIFETIME_ENERGY, FootprintFilter, PactService, Stage, read_pact
from batpass.http import Ctx
from batpass.passport import ALL_TIERS
from batpass.web._i18n import N_, gettext_for
from batpass.web._page_blocks import STAGE_NAMES, footprint_block, sig
from batpass.web.console._scope import scoped_choices, scoped_passport
from batpass.web.console._session import BASE, ConsoleRefusal, console_page, signed_in
from batpass.web.console._views import common

__all__ = ["SOURCE_NAMES", "router"]

router = APIRouter(prefix=BASE, include_in_schema=False)

#: the ``extensions[].dataSchema`` carrying the Annex II split (written by the hub's PACT export
#: and the pack maker; docs/ouranos-hub.md "PACT v3 export")
STAGES_EXTENSION = "urn:batpass:pact-extension:annex-ii-stages:1.0.0"
#: ``ProductFootprint.source`` → the format's name
SOURCE_NAMES = {
    "pact-v2": N_("PACT v2"),
    "pact-v3": N_("PACT v3"),
    "catenax-pcf-9.0": N_("Catena-X PCF 9.0"),
    "ouranos-cfp": N_("Ouranos CFP"),
}
_MAX_DOCUMENTS = 50


@dataclass(frozen=True, slots=True)
class Document:
    """One footprint document the node holds, as a person reads it."""

    id: str
    product: str
    company: str
    products: str
    role: str
    source: str
    period: str
    unit: str
    per_unit: str
    stages: tuple[tuple[str, str], ...]
    primary_share: str
    per_kwh: tuple[tuple[str, str], ...]
    comment: str


def _d(value: Decimal | None) -> str:
    return "" if value is None else sig(float(value))


def _extension(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    for e in doc.get("extensions") or ():
        if isinstance(e, Mapping) and e.get("dataSchema") == STAGES_EXTENSION and isinstance(e.get("data"), Mapping):
            data: Mapping[str, Any] = e["data"]
            return data
    return {}


def _document(doc: Mapping[str, Any], gtin_urn: str) -> Document | None:
    """The document read as PACT v3 (None if it does not read: the API would not serve it either)."""
    _ = gettext_for()
    try:
        fp = read_pact(dict(doc), expect=3)
    except BatpassError:
        return None
    ext = _extension(doc)
    raw = ext.get("stages") if isinstance(ext.get("stages"), Mapping) else {}
    assert isinstance(raw, Mapping)
    stages = []
    for s in Stage:
        value = fp.stages.get(s)
        if value is None and raw.get(s.value) is not None:
            value = Decimal(str(raw[s.value]))
        stages.append((_(STAGE_NAMES[s.value]), _d(value) if value is not None else _("not provided")))
    split = any(fp.stages.get(s) is not None or raw.get(s.value) is not None for s in Stage)
    if fp.stages.unsplit is not None and not split:  # cradle to gate without a split (PACT, Catena-X)
        stages.append((_("Cradle to gate, stage split not provided"), _d(fp.stages.unsplit)))
    per_kwh: list[tuple[str, str]] = []
    stated = ext.get("perKwhLifetimeEnergy")
    if isinstance(stated, Mapping):
        per_kwh = [
            (_("kg CO₂e per kWh of lifetime energy"), sig(float(stated.get("kgCo2ePerKwh", 0)))),
            (_("Lifetime energy (kWh)"), sig(float(stated.get("lifetimeKwh", 0)))),
            (_("Formula"), str(stated.get("formula", ""))),
        ]
    h = fp.header
    period = " – ".join(d.date().isoformat() for d in (h.reference_period_start, h.reference_period_end) if d)
    return Document(
        id=h.id,
        product=h.product_name,
        company=h.company_name,
        products=", ".join(h.product_ids),
        role=_("this battery") if gtin_urn in h.product_ids else _("a component or input"),
        source=_(SOURCE_NAMES.get(fp.source, fp.source)),
        period=period,
        unit=f"{fp.declared_unit_amount.normalize():f} {fp.declared_unit.value}",
        per_unit=_d(fp.per_unit),
        stages=tuple(stages),
        primary_share="" if fp.primary_data_share is None else f"{fp.primary_data_share * 100:.1f} %",
        per_kwh=tuple(per_kwh),
        comment=h.comment,
    )


def documents(pact: PactService | None, gtin: str) -> list[Document]:
    """The footprint documents this node serves, the battery's (``urn:gtin:<gtin>``) first."""
    if pact is None:
        return []
    urn = f"urn:gtin:{gtin}"
    page = pact.list_footprints(FootprintFilter(), limit=_MAX_DOCUMENTS)
    read = [d for d in (_document(doc, urn) for doc in page.documents) if d is not None]
    return sorted(read, key=lambda d: d.role != gettext_for()("this battery"))


def received(pact: PactService | None, gtin: str) -> list[Document]:
    """The footprints partners sent this node (PACT ``RequestFulfilledEvent``s): its components'."""
    if pact is None:
        return []
    urn = f"urn:gtin:{gtin}"
    out: list[Document] = []
    for event in pact.events_received(types=("org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3",)):
        data = event.get("data")
        for doc in (data.get("pfs") or ()) if isinstance(data, Mapping) else ():
            if isinstance(doc, Mapping) and (d := _document(doc, urn)) is not None:
                out.append(d)
    return out[:_MAX_DOCUMENTS]


@router.get("/footprint", response_model=None)
def footprint(request: Request, ctx: Ctx) -> Response:
    try:
        who = signed_in(request, ctx)
        choices = scoped_choices(who, ctx)
        wanted = request.query_params.get("passport", "") or (choices[0][0] if choices else "")
        found = scoped_passport(who, ctx, wanted) if wanted else None
    except ConsoleRefusal as refusal:
        return refusal.response
    _ = gettext_for()
    block = None
    battery = ""
    held: list[Document] = []
    from_partners: list[Document] = []
    if found is not None:
        svc, p = found
        view = svc.read(p, tiers=ALL_TIERS, channel="console")
        ctx.service(AccountService).record(
            who.session.user.name, "passport.open", str(p.passport_id), "ok", note="footprint"
        )
        block = footprint_block(view)
        battery = f"{p.battery_id.gtin} / {p.battery_id.serial}"
        pact = ctx.services.get(PactService)
        held = documents(pact, p.battery_id.gtin)
        from_partners = received(pact, p.battery_id.gtin)
    return console_page(
        "console/footprint.html",
        **common(who, "footprint"),
        choices=choices,
        chosen=str(found[1].passport_id) if found else "",
        battery=battery,
        fp=block,
        basis=PER_KWH_LIFETIME_ENERGY,
        held=held,
        received=from_partners,
    )
