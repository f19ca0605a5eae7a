"""Builds the web page model (``batpass.web.PassportPage``) from a reader's visible view.

Only the view (already cut to the reader's tiers) goes in, so nothing outside them can reach the
page. Key facts come first; every number is shown with its unit and basis (the footprint per
kWh of lifetime energy and per kWh of capacity, the recycled content's basis). Every label is a message id of
the pages' catalogues (``N_`` marks one for extraction), looked up in the request's language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from batpass.compliance import load_ruleset
from batpass.core.errors import BatpassError, NotFound
from batpass.participants import ParticipantService
from batpass.passport import FIELDS, FIELDS_BY_KEY, Kind, Passport, PassportRules, Tier, qr_svg
from batpass.trust import peek
from batpass.web._i18n import N_, current, gettext_for
from batpass.web._landing import ASSETS, invalid_reason
from batpass.web._page_blocks import (
    CO2E_PER_KWH,
    Names,
    country_name,
    footprint_block,
    history_rows,
    lifecycle_rows,
    material,
    sig,
    substances_block,
)
from batpass.web._pages import (
    PageRow,
    PageSection,
    PassportPage,
    render_history_page,
    render_message_page,
    render_passport_page,
)

__all__ = ["PassportPages", "build_page", "format_value", "legal_names"]


_UNITS = {
    "Cel": "°C",
    # the Annex II functional unit, stated where the figure appears (issue 18)
    "kgCO2e/kWh": N_("kg CO₂e per kWh of lifetime energy"),
    "1/h": "C (1/h)",
    "year": N_("years"),
    "Ohm": "Ω",
    "cycles": N_("cycles"),
}

KEY_FACTS = (
    "model_name",
    "manufacturer_name",
    "category",
    "chemistry",
    "rated_capacity",
    "rated_energy",
    "weight",
    "manufacturing_date",
    "manufacturing_place",
    "carbon_footprint",
    "expected_lifetime_cycles",
)
#: data points the page shows in blocks of their own (footprint, substances, operators, life)
_IN_BLOCKS = frozenset(
    {
        "status",
        "category",
        "economic_operator",
        "hazardous_substances",
        "carbon_footprint",
        "carbon_footprint_stages",
        "carbon_footprint_absolute",
        "carbon_footprint_class",
        "carbon_footprint_study",
        "intended_use",
        "restored_capacity",
        "waste_operator",
        "recycler",
        "recycled_on",
        "recovered_materials",
    }
)
_SECTIONS: tuple[tuple[str, str, Any], ...] = (
    (
        "identification",
        N_("Identification"),
        {
            "passport_id",
            "battery_id",
            "economic_operator_id",
            "manufacturer_address",
            "manufacturer_id",
            "manufacturing_facility",
            "placed_on_market",
            "backup_node",
            "predecessors",
            "successors",
        },
    ),
    (
        "safety",
        N_("Safety and materials"),
        {
            "mercury_share",
            "cadmium_share",
            "lead_share",
            "extinguishing_agent",
            "critical_raw_materials",
            "labels",
            "renewable_content",
        },
    ),
    ("origin", N_("Origin of the mined raw materials (share by country)"), {"material_origin"}),
    ("recycled", N_("Recycled content"), {"recycled_content"}),
    ("due-diligence", N_("Due diligence"), {"due_diligence_report", "mined_site_status"}),
    ("performance", N_("Performance and durability"), None),  # the other public numbers
    (
        "documents",
        N_("Documents and end of life"),
        {"separate_collection_info", "waste_prevention_info", "declaration_of_conformity", "instructions_for_use"},
    ),
)
_TIER_TITLES = {
    Tier.LEGITIMATE_INTEREST: (
        "restricted",
        N_("Detailed composition, parts and dismantling (legitimate interest and authorities)"),
    ),
    Tier.AUTHORITIES: ("authorities", N_("Test reports (authorities only)")),
    Tier.DYNAMIC: ("dynamic", N_("State of health and usage (legitimate interest)")),
}


_CATEGORY_NAMES = {
    "ev": N_("Electric vehicle (EV) battery"),
    "lmt": N_("Light means of transport (LMT) battery"),
    "industrial": N_("Industrial battery"),
    "stationary": N_("Stationary energy storage (industrial) battery"),
}
#: the resolver's messages (``batpass.passport`` routes), so they are in the catalogues
#: the names of an entry's parts in Annex XIII lists (a substance, a part, a document, ...)
_ITEM_KEYS = {
    "cas": N_("CAS number"),
    "hazard_class": N_("hazard class"),
    "location": N_("location"),
    "name": N_("name"),
    "meaning": N_("meaning"),
    "subject": N_("subject"),
    "symbol": N_("symbol"),
    "number": N_("number"),
    "part": N_("part"),
    "email": N_("e-mail"),
    "supplier": N_("supplier"),
    "url": N_("URL"),
    "document": N_("document"),
    "mime": N_("media type"),
    "lab": N_("laboratory"),
    "test": N_("test"),
    "mass_kg": N_("mass (kg)"),
    "material": N_("material"),
}
RESOLVER_MESSAGES = (
    N_("Not a battery identifier"),
    N_("This code is not a valid battery identifier."),
    N_("Battery not found"),
    N_("No passport is registered for this battery here."),
)


def credential_line(token: str) -> str:
    """A credential the passport carries, as a reader reads it: its type, issuer and validity —
    never the token's text (a ``vc+jwt``, or an SD-JWT VC by its ``vct``)."""
    _ = gettext_for()
    try:
        _header, payload = peek(token.split("~", 1)[0])
    except BatpassError:
        return _("a credential that could not be read")
    types = payload.get("type")
    kind = (
        next((t for t in types if t != "VerifiableCredential"), "VerifiableCredential")
        if isinstance(types, list)
        else str(types or payload.get("vct") or "VerifiableCredential")
    )
    issuer = payload.get("issuer") or payload.get("iss") or "?"
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id", "?")
    line = _("%(type)s, issued by %(issuer)s") % {"type": kind, "issuer": issuer}
    until = payload.get("validUntil")
    return line + (" " + _("(valid until %(date)s)") % {"date": str(until)[:10]} if until else "")


def format_value(key: str, value: Any) -> PageRow:
    """The row of field ``key`` (Annex XIII label and units in the request's language)."""
    spec = FIELDS_BY_KEY[key]
    _ = gettext_for()
    label = _(spec.label)
    if key == "category":
        return PageRow(key, label, _(_CATEGORY_NAMES.get(str(value), str(value))))
    if key == "carbon_footprint" and isinstance(value, Mapping):
        return PageRow(key, _("Carbon footprint per kWh of lifetime energy"), sig(float(value["value"])), CO2E_PER_KWH)
    if key == "material_origin" and isinstance(value, Mapping):
        return PageRow(key, label, "", items=tuple(origin_line(m, v) for m, v in value.items()))
    if key == "mined_site_status" and isinstance(value, Mapping):
        return PageRow(key, label, "", items=tuple(site_line(m, v) for m, v in value.items()))
    if (
        key == "labels"
        and isinstance(value, list)
        and all(isinstance(item, Mapping) and {"subject", "meaning"} <= set(item) for item in value)
    ):
        return PageRow(key, label, "", items=tuple(f"{item['subject']}: {item['meaning']}" for item in value))
    if isinstance(value, Mapping) and set(value) == {"value", "unit"}:
        unit = _(_UNITS.get(str(value["unit"]), str(value["unit"])))
        return PageRow(key, label, f"{value['value']:,.6g}".replace(",", " "), unit)
    if spec.kind is Kind.INTEGER:
        unit = _(_UNITS.get(spec.unit or "", spec.unit or ""))
        return PageRow(key, label, f"{int(value):,}".replace(",", " "), unit)
    if spec.kind is Kind.URL and isinstance(value, str) and value.startswith("https://"):
        return PageRow(key, label, value, href=value)
    if key == "credentials" and isinstance(value, list):
        return PageRow(key, label, "", items=tuple(credential_line(str(t)) for t in value))
    if isinstance(value, list):
        items = tuple(
            "; ".join(f"{_(_ITEM_KEYS.get(k, k.replace('_', ' ')))}: {v}" for k, v in item.items())
            if isinstance(item, Mapping)
            else str(item)
            for item in value
        )
        return PageRow(key, label, "", items=items)
    if key == "recycled_content" and isinstance(value, Mapping):
        return PageRow(key, label, "", items=tuple(recycled_line(m, v) for m, v in value.items()))
    if isinstance(value, Mapping):
        lines: list[str] = []
        for k, v in value.items():
            if isinstance(v, Mapping):
                shown = ", ".join(f"{kk} {_pct(vv)}" for kk, vv in v.items())
            else:
                shown = (
                    f"{v:g} {_(_UNITS.get(spec.unit or '', spec.unit or ''))}".strip()
                    if isinstance(v, float)
                    else str(v)
                )
            lines.append(f"{k.replace('_', ' ')}: {shown}")
        return PageRow(key, label, "", items=tuple(lines))
    return PageRow(key, label, str(value))


#: what each basis of a recycled-content figure means, as the page states it (issue 18)
RECYCLED_BASES = {
    "art8_model_batch_plant": N_("Art. 8 basis: per battery model and batch per manufacturing plant"),
    "battery_mass_balance": N_("this battery alone, by mass balance (not the Art. 8 basis)"),
}


def recycled_line(metal: str, v: Any) -> str:
    """One metal's recycled content with its basis: unknown (no supplier summary yet) is said so,
    never shown as 0 %."""
    _ = gettext_for()
    if not isinstance(v, Mapping):
        return f"{material(metal)}: {v}"
    basis_key = str(v.get("basis") or "")
    basis = _(RECYCLED_BASES[basis_key]) if basis_key in RECYCLED_BASES else (basis_key or _("basis not stated"))
    if v.get("pre") is None or v.get("post") is None:
        return _("%(metal)s: unknown (%(basis)s)") % {"metal": material(metal), "basis": basis}
    unknown = v.get("unknown_mass_share")
    values = {"metal": material(metal), "pre": _pct(v["pre"]), "post": _pct(v["post"]), "basis": basis}
    if isinstance(unknown, (int, float)) and unknown > 0:
        return _("%(metal)s: pre-consumer %(pre)s, post-consumer %(post)s, unknown %(unknown)s (%(basis)s)") % {
            **values,
            "unknown": _pct(unknown),
        }
    return _("%(metal)s: pre-consumer %(pre)s, post-consumer %(post)s (%(basis)s)") % values


def site_line(metal: str, v: Any) -> str:
    """One raw material's mined part by site status (docs/sites.md "Site facts"); names no site."""
    if not isinstance(v, Mapping):
        return f"{material(metal)}: {v}"
    _ = gettext_for()
    return _(
        "%(metal)s: certified sites %(certified)s, flagged for enhanced due diligence %(flagged)s,"
        " unknown sites %(unknown)s"
    ) % {
        "metal": material(metal),
        "certified": _pct(v.get("certified")),
        "flagged": _pct(v.get("flagged")),
        "unknown": _pct(v.get("unknown")),
    }


def origin_line(metal: str, shares: Any) -> str:
    """One raw material's mined origin: each country by name with its share."""
    if not isinstance(shares, Mapping):
        return f"{material(metal)}: {shares}"
    by_share = sorted(shares.items(), key=lambda kv: -float(kv[1]) if isinstance(kv[1], (int, float)) else 0.0)
    return f"{material(metal)}: " + ", ".join(f"{country_name(str(c))} {_pct(s)}" for c, s in by_share)


def _pct(v: Any) -> str:
    return f"{float(v) * 100:.1f} %" if isinstance(v, (int, float)) else str(v)


@lru_cache(maxsize=1)
def _default_rules() -> PassportRules:
    return PassportRules.from_ruleset(load_ruleset())


def page_sections(view: Mapping[str, Any], tiers: Iterable[Tier]) -> tuple[PageSection, ...]:
    """The labelled sections of a passport view (its data as JSON, from this node or another):
    key facts, the public sections, then one per restricted tier in ``tiers``."""
    _ = gettext_for()
    tier_set = frozenset(tiers)
    used: set[str] = set(_IN_BLOCKS)
    sections: list[PageSection] = []
    key_rows = [format_value(k, view[k]) for k in KEY_FACTS if k in view]
    footprint = footprint_block(view)
    if footprint is not None and footprint.rows[1].unit:  # per kWh of capacity, when declared
        at = next((i + 1 for i, r in enumerate(key_rows) if r.key == "carbon_footprint"), len(key_rows))
        per_capacity = footprint.rows[1]
        key_rows.insert(
            at,
            PageRow(per_capacity.key, _("Carbon footprint per kWh of capacity"), per_capacity.value, per_capacity.unit),
        )
    used.update(KEY_FACTS)
    sections.append(PageSection("key-facts", _("Key facts"), tuple(key_rows)))
    public_keys = [f.key for f in FIELDS if f.tier is Tier.PUBLIC and f.key in view and f.key not in used]
    # the catch-all section ("the other public numbers") takes what no named section claims
    claimed = set().union(*(keys for _sid, _title, keys in _SECTIONS if keys is not None))
    for sid, title, keys in _SECTIONS:
        chosen = [k for k in public_keys if k not in used and (k in keys if keys is not None else k not in claimed)]
        if chosen:
            used.update(chosen)
            sections.append(PageSection(sid, _(title), tuple(format_value(k, view[k]) for k in chosen)))
    for tier, (sid, title) in _TIER_TITLES.items():
        if tier not in tier_set:
            continue
        keys = [f.key for f in FIELDS if f.tier is tier and f.key in view]
        rows = tuple(format_value(k, view[k]) for k in keys)
        sections.append(PageSection(sid, _(title), rows, note="" if rows else _("No data recorded yet.")))
    return tuple(sections)


def build_page(
    passport: Passport,
    view: Mapping[str, Any],
    *,
    tiers: Iterable[Tier],
    roles: Iterable[str],
    resolve_link: Any = None,
    names: Names | None = None,
    rules: PassportRules | None = None,
    assets: str = ASSETS,
) -> PassportPage:
    """The page for ``view`` (the reader's visible data); ``resolve_link(uuid_urn)`` gives hrefs,
    ``names(did)`` an operator's legal name."""
    _ = gettext_for()
    tier_set = frozenset(tiers)
    sections = list(page_sections(view, tier_set))
    footprint = footprint_block(view)
    links: list[tuple[str, str]] = []
    if resolve_link is not None:
        for key, label in (("predecessors", _("Previous passport %(id)s")), ("successors", _("Next passport %(id)s"))):
            for urn in view.get(key, ()):
                href = resolve_link(urn)
                if href:
                    links.append((label % {"id": urn}, href))
    life, operators = lifecycle_rows(view, passport.status.value, passport.ended, names)
    category = _(_CATEGORY_NAMES[passport.category.value])
    if passport.predecessors:  # a second life: its category and model are this life's
        life = (PageRow("category", _("Battery category in this life"), category), *life)
    return PassportPage(
        title=str(view.get("model_name") or passport.model_id),
        subtitle=" · ".join(x for x in (str(view.get("manufacturer_name", "")), category) if x),
        status=passport.status.value,
        ended=passport.ended,
        passport_id=passport.urn,
        battery_url=passport.digital_link,
        qr_svg=qr_svg(passport.digital_link),
        sections=tuple(sections),
        tiers=tuple(sorted(t.value for t in tier_set)),
        roles=tuple(sorted(roles)),
        links=tuple(links),
        json_href=passport.battery_id.path,
        lifecycle=life,
        operators=operators,
        footprint=footprint,
        substances=substances_block(view, rules or _default_rules(), assets),
        history_href=f"{passport.battery_id.path}/history",
        assets=assets,
    )


def legal_names(participants: ParticipantService) -> Names:
    """A party's legal name from the node's participant register (None: not registered)."""

    def name(did: str) -> str | None:
        try:
            return participants.get(did).legal_name
        except NotFound:
            return None

    return name


class PassportPages:
    """The resolver's HTML pages (``batpass.passport.PageRenderer``), wired by the node.

    ``names(did)`` gives a party's legal name (the node's participant register), ``rules`` the
    passport rules of the node (the Cd / Pb mark thresholds; default: the EU ruleset).
    """

    def __init__(self, *, names: Names | None = None, rules: PassportRules | None = None) -> None:
        self.names = names
        self.rules = rules

    def passport_page(
        self,
        passport: Passport,
        view: Mapping[str, Any],
        *,
        tiers: Iterable[Tier],
        roles: Iterable[str],
        resolve_link: Callable[[str], str | None],
        served_from: Mapping[str, Any] | None = None,
    ) -> str:
        page = build_page(
            passport, view, tiers=tiers, roles=roles, resolve_link=resolve_link, names=self.names, rules=self.rules
        )
        return render_passport_page(page, served_from=served_from)

    def history_page(self, passport: Passport, versions: Sequence[Mapping[str, Any]]) -> str:
        """The passport's versions as a page (``versions``: the history API's entries, cut to
        the reader's tiers)."""
        page = build_page(passport, {}, tiers=(), roles=(), names=self.names, rules=self.rules)
        return render_history_page(page, history_rows(versions, self.names))

    def message_page(self, title: str, text: str) -> str:
        """The resolver's message, with the Digital Link asked for in the search box and, when it
        is malformed, the rule it breaks."""
        _ = gettext_for()
        path = current().path
        asked = unquote(path) if path.startswith("/01/") else ""
        reason = invalid_reason(path) if asked else None
        return render_message_page(_(title), _(text) if reason is None else f"{_(text)} {reason}", query=asked)
