"""The GS1 Digital Link linkset of a battery (RFC 9264 JSON, link relation types from the GS1 Web
Vocabulary and the IANA registry): what a resolver answers to ``?linkType=all`` or to
``Accept: application/linkset+json``, and where ``?linkType=<type>`` redirects.

Every link names a resource this node serves for the passport: the page a person reads, the
passport as JSON, its version history and its exports. The anchor is the battery's Digital Link
URI on its resolver, so a client can tell which battery the links are about."""

from __future__ import annotations

from typing import Any

from batpass.passport.model import Passport

__all__ = ["LINKSET_MEDIA_TYPE", "LINK_TYPES", "linkset", "target"]

LINKSET_MEDIA_TYPE = "application/linkset+json"
_GS1 = "https://gs1.org/voc/"

#: the link types this node answers, as their ``linkType`` query value (GS1 Digital Link uses the
#: compact ``gs1:`` form) → the relation type written in the linkset
LINK_TYPES: dict[str, str] = {
    "gs1:defaultLink": _GS1 + "defaultLink",
    "gs1:pip": _GS1 + "pip",
    "gs1:sustainabilityInfo": _GS1 + "sustainabilityInfo",
    "describedby": "describedby",
    "version-history": "version-history",
    "alternate": "alternate",
}


def linkset(p: Passport, *, api_base: str | None) -> dict[str, Any]:
    """The battery's links; ``api_base`` is this node's URL (the passport's API lives there), or
    None on a backup node answering from its held copy: it serves the Digital Link alone (the page
    and, by ``Accept``, the JSON), so only links to it are given."""
    page = p.digital_link
    human = {"href": page, "title": "Battery passport", "type": "text/html", "hreflang": ["en"]}
    links: dict[str, Any] = {"anchor": page}
    links[LINK_TYPES["gs1:defaultLink"]] = [human]
    links[LINK_TYPES["gs1:pip"]] = [human]
    if api_base is None:
        as_json = {"href": page, "title": "Battery passport (JSON)", "type": "application/json"}
        links[LINK_TYPES["gs1:sustainabilityInfo"]] = [as_json]
        links["describedby"] = [as_json]
        return {"linkset": [links]}
    api = f"{api_base.rstrip('/')}/v1/passports/{p.urn}"
    as_json = {"href": api, "title": "Battery passport (JSON)", "type": "application/json"}
    exports = [
        {"href": f"{api}/export/{fmt}", "title": title, "type": "application/json"}
        for fmt, title in (
            ("catenax", "Catena-X battery pass (battery_pass 6.1.0)"),
            ("aas", "Asset Administration Shell (AAS V3.1 JSON)"),
            ("batterypass", "Battery Pass data model (1.2.0 modules)"),
        )
    ]
    links[LINK_TYPES["gs1:sustainabilityInfo"]] = [as_json]
    links["describedby"] = [as_json]
    links["version-history"] = [
        {"href": f"{api}/history", "title": "Versions of the passport", "type": "application/json"}
    ]
    links["alternate"] = exports
    return {"linkset": [links]}


def target(links: dict[str, Any], link_type: str) -> str | None:
    """Where ``?linkType=<link_type>`` leads (the first link of that type), or None."""
    rel = LINK_TYPES.get(link_type)
    found = links["linkset"][0].get(rel) if rel else None
    return str(found[0]["href"]) if found else None
