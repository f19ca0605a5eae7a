"""Builds the web page model (``batpass.web.PassportPage``) from a reader's visible view.

Only the view (already cut to the reader's tiers) goes in, so nothing outside them can reach the
page. Key facts come first; every number is shown with its unit. Every label is a message id of
the pages' catalogues (``N_`` marks one for extraction), looked up in the request's language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from batpass.core.errors import BatpassError
from batpass.passport import FIELDS, FIELDS_BY_KEY, Kind, Passport, Tier, qr_svg
from batpass.trust import peek
from batpass.web._i18n import N_, current, gettext_for
from batpass.web._landing import invalid_reason
from batpass.web._pages import PageRow, PageSection, PassportPage, render_message_page, render_passport_page

__all__ = ["PassportPages", "build_page", "format_value"]


_UNITS = {
    "Cel": "°C",
    "kgCO2e/kWh": "kg CO₂e/kWh",
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
_SECTIONS: tuple[tuple[str, str, Any], ...] = (
    (
        "identification",
        N_("Identification"),
        {
            "passport_id",
            "battery_id",
            "economic_operator",
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
        N_("Safety, substances and materials"),
        {
            "hazardous_substances",
            "mercury_share",
            "cadmium_share",
            "lead_share",
            "extinguishing_agent",
            "critical_raw_materials",
            "material_origin",
            "labels",
            "recycled_content",
            "renewable_content",
        },
    ),
    (
        "footprint",
        N_("Carbon footprint and due diligence"),
        {"carbon_footprint_stages", "carbon_footprint_class", "carbon_footprint_study", "due_diligence_report"},
    ),
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
                    f"{v:g} {_UNITS.get(spec.unit or '', spec.unit or '')}".strip() if isinstance(v, float) else str(v)
                )
            lines.append(f"{k.replace('_', ' ')}: {shown}")
        return PageRow(key, label, "", items=tuple(lines))
    return PageRow(key, label, str(value))


#: what each basis of a recycled-content figure means, as the page states it (issue 18)
RECYCLED_BASES = {
    "art8_model_batch_plant": "Art. 8 basis: per battery model and batch per manufacturing plant",
    "battery_mass_balance": "this battery alone, by mass balance (not the Art. 8 basis)",
}


def recycled_line(metal: str, v: Any) -> str:
    """One metal's recycled content with its basis: unknown (no supplier summary yet) is said so,
    never shown as 0 %."""
    if not isinstance(v, Mapping):
        return f"{metal}: {v}"
    basis = RECYCLED_BASES.get(str(v.get("basis")), str(v.get("basis") or "basis not stated"))
    if v.get("pre") is None or v.get("post") is None:
        return f"{metal}: unknown ({basis})"
    unknown = v.get("unknown_mass_share")
    rest = f", unknown {_pct(unknown)}" if isinstance(unknown, (int, float)) and unknown > 0 else ""
    return f"{metal}: pre-consumer {_pct(v['pre'])}, post-consumer {_pct(v['post'])}{rest} ({basis})"


def _pct(v: Any) -> str:
    return f"{float(v) * 100:.1f} %" if isinstance(v, (int, float)) else str(v)


def page_sections(view: Mapping[str, Any], tiers: Iterable[Tier]) -> tuple[PageSection, ...]:
    """The labelled sections of a passport view (its data as JSON, from this node or another):
    key facts, the public sections, then one per restricted tier in ``tiers``."""
    _ = gettext_for()
    tier_set = frozenset(tiers)
    used: set[str] = set()
    sections: list[PageSection] = []
    key_rows = tuple(format_value(k, view[k]) for k in KEY_FACTS if k in view)
    used.update(r.key for r in key_rows)
    sections.append(PageSection("key-facts", _("Key facts"), key_rows))
    public_keys = [f.key for f in FIELDS if f.tier is Tier.PUBLIC and f.key in view and f.key not in used]
    # the catch-all section ("the other public numbers") takes what no named section claims
    claimed = set().union(*(keys for _sid, _title, keys in _SECTIONS if keys is not None))
    for sid, title, keys in _SECTIONS:
        chosen = [k for k in public_keys if k not in used and (k in keys if keys is not None else k not in claimed)]
        chosen = [k for k in chosen if k not in ("status", "category")]
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
) -> PassportPage:
    """The page for ``view`` (the reader's visible data); ``resolve_link(uuid_urn)`` gives hrefs."""
    _ = gettext_for()
    tier_set = frozenset(tiers)
    sections = list(page_sections(view, tier_set))
    links: list[tuple[str, str]] = []
    if resolve_link is not None:
        for key, label in (("predecessors", _("Previous passport %(id)s")), ("successors", _("Next passport %(id)s"))):
            for urn in view.get(key, ()):
                href = resolve_link(urn)
                if href:
                    links.append((label % {"id": urn}, href))
    return PassportPage(
        title=str(view.get("model_name") or passport.model_id),
        subtitle=" · ".join(
            x for x in (str(view.get("manufacturer_name", "")), _(_CATEGORY_NAMES[passport.category.value])) if x
        ),
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
    )


class PassportPages:
    """The resolver's HTML pages (``batpass.passport.PageRenderer``), wired by the node."""

    def passport_page(
        self,
        passport: Passport,
        view: Mapping[str, Any],
        *,
        tiers: Iterable[Tier],
        roles: Iterable[str],
        resolve_link: Callable[[str], str | None],
    ) -> str:
        return render_passport_page(build_page(passport, view, tiers=tiers, roles=roles, resolve_link=resolve_link))

    def message_page(self, title: str, text: str) -> str:
        """The resolver's message, with the Digital Link asked for in the search box and, when it
        is malformed, the rule it breaks."""
        _ = gettext_for()
        path = current().path
        asked = unquote(path) if path.startswith("/01/") else ""
        reason = invalid_reason(path) if asked else None
        return render_message_page(_(title), _(text) if reason is None else f"{_(text)} {reason}", query=asked)
