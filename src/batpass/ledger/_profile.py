"""Origin profiles: for each lot and element, where that element came from.

A profile is computed once per lot when the lot is recorded (from its parents' profiles, so the
upstream summary is always precomputed) and again by the trace from the traced graph (the two
must agree; a property test checks it). Pure: no storage.

Per element, every share is a fraction of the element's mass in the lot:

- ``c`` mined origin by country, ``r`` recycled input by the country of the recycler that
  recovered it (summary 2.0 keeps the two apart: a recycler is no origin), and ``s`` by site
  (mine sites; recovery sites for recycled material); ``c``, ``r`` and ``u`` sum to 1 (a profile
  stored before ``r`` existed reads as none: its ``c`` still counts recyclers until recomputed);
- ``hx`` the high-risk share of the element's mass reported by folded supplier summaries (local
  sites are judged at read time against the node's site register, so a new screening needs no
  recompute); likewise ``cx`` the share from sites the suppliers' registers know as certified,
  ``ox`` from sites they know as neither certified nor flagged, and ``fd`` the shares their
  operators' due-diligence findings cover (by finding; docs/sites.md "Site facts");
- ``pre``/``post`` recycled shares (Art. 8; run-around scrap counts as neither);
- ``cm`` chain-of-custody models (ISO 22095): each contribution is classed by the *weakest* model
  met on its path, so a mass-balance step anywhere makes the rest of the path mass balance;
- ``u`` the share of unknown origin: mass no received summary covers (a supplier boundary with
  no summary, a tombstone, or the unknown share a supplier's own summary reported);
- ``a`` the share sitting in active materials, with ``apre``/``apost`` the recycled shares of
  that active part (Art. 8 measures Co, Li and Ni against the element in active materials).

Mixing weights are element masses: an input giving ``kg`` with fraction ``f`` of element e
weighs ``kg × f`` in the element-e profile of every output of that event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from batpass.core.sitefacts import SiteFacts, site_facts
from batpass.core.summary import (
    ActiveMaterial,
    ElementShares,
    Recycled,
    SiteFinding,
    SiteShares,
    UpstreamSummary,
    encode_summary_element,
)
from batpass.ledger._materials import ELEMENTS, Element
from batpass.ledger.model import _STRENGTH, CustodyModel, EventKind, Lot, RecycledOrigin

__all__ = ["Profile", "element_shares", "element_view", "mix_profile", "source_profile", "summary_source_profile"]

Profile = dict[str, Any]  # {"e": {element: {...}}, "mines": [site ids], "xm": {boundary key: mines}}

_NONE: dict[str, float] = {}
_ORDER = {m.value: m.strength for m in CustodyModel}
# members as module constants (a member read off its class costs a Python-level call,
# EnumType.__getattr__) and enum values as their stored ``_value_`` (the ``value`` property is
# another): the profile builders run for every new lot
_EXTRACTION: Final = EventKind.EXTRACTION
_RECOVERY: Final = EventKind.RECOVERY
_PRE_CONSUMER: Final = RecycledOrigin.PRE_CONSUMER
_POST_CONSUMER: Final = RecycledOrigin.POST_CONSUMER
_ZERO = {
    "c": {},
    "r": {},
    "s": {},
    "hx": 0.0,
    "cx": 0.0,
    "ox": 0.0,
    "fd": {},
    "pre": 0.0,
    "post": 0.0,
    "cm": {},
    "u": 1.0,
    "a": 0.0,
    "apre": 0.0,
    "apost": 0.0,
}


def _recycled_flags(r: RecycledOrigin | None) -> tuple[float, float]:
    if r is _PRE_CONSUMER:
        return 1.0, 0.0
    if r is _POST_CONSUMER:
        return 0.0, 1.0
    return 0.0, 0.0


def is_profile_source(lot: Lot) -> bool:
    """Lots whose profile does not come from parents: mined lots, recovered (recycled) lots and
    receipts from another owner's partition."""
    return lot.kind is _EXTRACTION or (lot.kind is _RECOVERY and lot.recycled is not None)


def source_profile(lot: Lot) -> Profile:
    pre, post = _recycled_flags(lot.recycled)
    active = lot.is_active_material
    e: dict[str, Any] = {}
    recycled = lot.recycled is not None
    for el, f in lot.composition.items():
        if f <= 0:
            continue
        e[el._value_] = {
            "c": {} if recycled else {lot.country: 1.0},
            "r": {lot.country: 1.0} if recycled else {},
            "s": {lot.site: 1.0},
            "hx": 0.0,
            "cx": 0.0,
            "ox": 0.0,
            "fd": {},
            "pre": pre,
            "post": post,
            "cm": {lot.custody._value_: 1.0},
            "u": 0.0,
            "a": 1.0 if active else 0.0,
            "apre": pre if active else 0.0,
            "apost": post if active else 0.0,
        }
    mines = [lot.site] if lot.kind is _EXTRACTION else []
    return {"e": e, "mines": mines, "xm": {}}


def summary_source_profile(lot: Lot, summary: UpstreamSummary | None, key: str) -> Profile:
    """Profile of a lot received from another owner: from the supplier's upstream summary when
    one was received (identities are not in it), otherwise unknown origin (a tombstone).

    A 2.0 summary gives its mined and recycled series and its unknown share as they are. A 1.0
    summary's origin series mixed recycler countries with mines: it counts as mined origin when
    the element has no recycled share, and otherwise as unknown origin (its recycled shares
    still count) — docs/decisions/2026-12-06-upstream-summary-2.md."""
    pre0, post0 = _recycled_flags(lot.recycled)
    elements = summary.elements if summary is not None else {}
    active = lot.is_active_material
    e: dict[str, Any] = {}
    for el, f in lot.composition.items():
        if f <= 0:
            continue
        s = elements.get(el._value_)
        if s is None:
            ep = dict(_ZERO, pre=pre0, post=post0, cm={lot.custody._value_: 1.0}, c={}, r={}, s={}, fd={})
        else:
            pre = float(s.recycled.pre_consumer or 0.0) if lot.recycled is None else pre0
            post = float(s.recycled.post_consumer or 0.0) if lot.recycled is None else post0
            cm = _downgrade(dict(s.custody_models or {lot.custody._value_: 1.0}), lot.custody)
            mined = {k: float(v) for k, v in (s.mined_by_country or {}).items()}
            rec = {k: float(v) for k, v in (s.recycled_by_country or {}).items()}
            if summary is not None and summary.version == "1.0":
                split = float(s.recycled.pre_consumer or 0.0) + float(s.recycled.post_consumer or 0.0) <= 0.0
                mined = mined if split else {}
                unknown = 0.0 if mined else 1.0
            else:
                unknown = float(s.unknown_share if s.unknown_share is not None else 1.0)
            m = sum(mined.values())
            ep = {
                "c": mined,
                "r": rec,
                "s": {},
                "hx": float(s.high_risk_share or 0.0) * m,
                **_supplier_sites(s, m),
                "pre": pre,
                "post": post,
                "cm": cm,
                "u": unknown,
                "a": 0.0,
                "apre": 0.0,
                "apost": 0.0,
            }
            am = s.active_material
            if am is not None and lot.recycled is None:  # the supplier's active-material view
                ep["a"] = float(am.share)
                ep["apre"] = float(am.pre_consumer or 0.0)
                ep["apost"] = float(am.post_consumer or 0.0)
        if active:
            ep["a"], ep["apre"], ep["apost"] = 1.0, ep["pre"], ep["post"]
        e[el._value_] = ep
    xm = {key: int(summary.mines_reached)} if summary is not None else {key: -1}
    return {"e": e, "mines": [], "xm": xm}


def _supplier_sites(s: ElementShares, mined: float) -> dict[str, Any]:
    """A supplier's site facts as masses of the element (``cx``, ``ox``, ``fd``), from its
    summary's shares of the mined part; a summary whose register said nothing counts as
    unknown sites."""
    st = s.sites
    known = st.certified is not None and st.flagged is not None and st.unknown is not None
    certified = float(st.certified or 0.0) if known else 0.0
    other = max(0.0, 1.0 - certified - float(st.flagged or 0.0) - float(st.unknown or 0.0)) if known else 0.0
    fd = {_finding_key(f.dataset, f.reference, f.date): float(f.share) * mined for f in st.findings}
    return {"cx": certified * mined, "ox": other * mined, "fd": fd}


#: joins a finding's data set, reference and date into one profile key (a control character
#: no member carries)
_SEP = "\u001f"


def _finding_key(dataset: str, reference: str, date: str) -> str:
    return _SEP.join((dataset, reference, date))


def _downgrade(cm: dict[str, float], model: CustodyModel) -> dict[str, float]:
    limit = _STRENGTH[model]
    if all(_ORDER[k] >= limit for k in cm):
        return cm  # nothing stronger than the step's own model: unchanged
    out: dict[str, float] = {}
    for k, v in cm.items():
        kk = k if _ORDER[k] >= limit else model._value_
        out[kk] = out.get(kk, 0.0) + v
    return out


def mix_profile(lot: Lot, parents: Sequence[tuple[Lot, float]], parent_profiles: Sequence[Profile]) -> Profile:
    """Profile of ``lot`` produced from ``parents`` (each with the kg it gave to the event).

    Per element, each share is the weighted mean of the parents' shares, the weight of a parent
    being the element mass it gave (kg × its fraction of the element). The sums are written out
    in line (this runs for most recorded lots), each one in parent order."""
    p_lot = parents[0][0] if len(parents) == 1 else None
    if (
        p_lot is not None
        and p_lot.composition == lot.composition
        and _STRENGTH[p_lot.custody] >= _STRENGTH[lot.custody]
    ):
        # a move (shipment, own receipt) of one lot: same profile, custody unchanged or weaker
        p0 = parent_profiles[0]
        if p_lot.custody == lot.custody and p_lot.is_active_material == lot.is_active_material:
            return p0
    if len(parents) != len(parent_profiles):
        raise ValueError("mix_profile: one profile per parent")
    if p_lot is not None:
        return _mix_one(lot, p_lot, parents[0][1], parent_profiles[0])
    active = lot.is_active_material
    custody = lot.custody
    e: dict[str, Any] = {}
    mines: set[str] = set()
    xm: dict[str, int] = {}
    for prof in parent_profiles:
        mines.update(prof["mines"])
        xm.update(prof["xm"])
    for el, f in lot.composition.items():
        if f <= 0:
            continue
        key = el._value_
        W = 0.0
        Wa = 0.0
        c: dict[str, float] = {}
        r: dict[str, float] = {}
        s: dict[str, float] = {}
        cm: dict[str, float] = {}
        fd: dict[str, float] = {}
        hx = cx = ox = pre = post = u = apre = apost = 0.0
        for (plot, kg), prof in zip(parents, parent_profiles, strict=True):
            pf = plot.composition.get(el, 0.0)
            if pf <= 0:
                continue
            ep = prof["e"].get(key)
            if ep is None:
                continue
            w = kg * pf
            W += w
            for k, v in ep["c"].items():
                c[k] = c.get(k, 0.0) + v * w
            for k, v in ep.get("r", _NONE).items():
                r[k] = r.get(k, 0.0) + v * w
            for k, v in ep["s"].items():
                s[k] = s.get(k, 0.0) + v * w
            for k, v in ep["cm"].items():
                cm[k] = cm.get(k, 0.0) + v * w
            hx += ep["hx"] * w
            cx += ep.get("cx", 0.0) * w  # profiles stored before site facts have none
            ox += ep.get("ox", 0.0) * w
            for k, v in ep.get("fd", _NONE).items():
                fd[k] = fd.get(k, 0.0) + v * w
            pre += ep["pre"] * w
            post += ep["post"] * w
            u += ep["u"] * w
            wa = w * ep["a"]
            Wa += wa
            apre += ep["apre"] * wa
            apost += ep["apost"] * wa
        if W <= 0:
            e[key] = dict(_ZERO, cm={custody._value_: 1.0}, c={}, r={}, s={}, fd={})
            continue
        inv = 1.0 / W
        pre_s = pre * inv
        post_s = post * inv
        if active:
            a, apre_s, apost_s = 1.0, pre_s, post_s
        else:
            a = Wa * inv
            apre_s = apre / Wa if Wa > 0 else 0.0
            apost_s = apost / Wa if Wa > 0 else 0.0
        e[key] = {
            "c": {k: v * inv for k, v in c.items()},
            "r": {k: v * inv for k, v in r.items()},
            "s": {k: v * inv for k, v in s.items()},
            "hx": hx * inv,
            "cx": cx * inv,
            "ox": ox * inv,
            "fd": {k: v * inv for k, v in fd.items()},
            "pre": pre_s,
            "post": post_s,
            "cm": _downgrade({k: v * inv for k, v in cm.items()}, custody),
            "u": u * inv,
            "a": a,
            "apre": apre_s,
            "apost": apost_s,
        }
    return {"e": e, "mines": sorted(mines), "xm": xm}


def _mix_one(lot: Lot, plot: Lot, kg: float, prof: Profile) -> Profile:
    """:func:`mix_profile` of a lot made from one parent (most transformations and assemblies),
    with the same arithmetic: each sum over the one parent is ``0.0 + v × w`` (so a -0.0 share
    becomes 0.0 as there), then scaled by ``1 / W``; the dicts keep the parent's key order."""
    active = lot.is_active_material
    custody = lot.custody
    pe = prof["e"]
    pcomp = plot.composition
    e: dict[str, Any] = {}
    for el, f in lot.composition.items():
        if f <= 0:
            continue
        key = el._value_
        pf = pcomp.get(el, 0.0)
        ep = pe.get(key) if pf > 0 else None
        w = kg * pf
        W = 0.0 + w
        if ep is None or W <= 0:
            e[key] = dict(_ZERO, cm={custody._value_: 1.0}, c={}, r={}, s={}, fd={})
            continue
        inv = 1.0 / W
        pre_s = (0.0 + ep["pre"] * w) * inv
        post_s = (0.0 + ep["post"] * w) * inv
        wa = w * ep["a"]
        Wa = 0.0 + wa
        if active:
            a, apre_s, apost_s = 1.0, pre_s, post_s
        else:
            a = Wa * inv
            apre_s = (0.0 + ep["apre"] * wa) / Wa if Wa > 0 else 0.0
            apost_s = (0.0 + ep["apost"] * wa) / Wa if Wa > 0 else 0.0
        e[key] = {
            "c": {k: (0.0 + v * w) * inv for k, v in ep["c"].items()},
            "r": {k: (0.0 + v * w) * inv for k, v in ep.get("r", _NONE).items()},
            "s": {k: (0.0 + v * w) * inv for k, v in ep["s"].items()},
            "hx": (0.0 + ep["hx"] * w) * inv,
            "cx": (0.0 + ep.get("cx", 0.0) * w) * inv,
            "ox": (0.0 + ep.get("ox", 0.0) * w) * inv,
            "fd": {k: (0.0 + v * w) * inv for k, v in ep.get("fd", _NONE).items()},
            "pre": pre_s,
            "post": post_s,
            "cm": _downgrade({k: (0.0 + v * w) * inv for k, v in ep["cm"].items()}, custody),
            "u": (0.0 + ep["u"] * w) * inv,
            "a": a,
            "apre": apre_s,
            "apost": apost_s,
        }
    return {"e": e, "mines": sorted(set(prof["mines"])), "xm": dict(prof["xm"])}


def _norm(d: Mapping[str, float]) -> dict[str, float]:
    t = sum(d.values())
    if t <= 0:
        return {}
    out = {k: v / t for k, v in sorted(d.items()) if v > 0}
    # make the shares sum to exactly 1 within float precision (docs/contracts.md: within 1e-9)
    if out:
        k_max = max(out, key=lambda k: out[k])
        out[k_max] += 1.0 - sum(out.values())
    return out


def _high_risk(ep: Mapping[str, Any], high_risk_sites: Iterable[str]) -> float | None:
    """The high-risk share of the element's mined mass (None where none is known): local sites
    on the list, plus what folded supplier summaries reported."""
    hr = set(high_risk_sites)
    mined = sum(ep["c"].values())
    if mined <= 1e-12:
        return None
    local_hr = sum(v for k, v in ep["s"].items() if k in hr)
    return _clip(float(local_hr + ep["hx"]) / mined)


def _site_shares(ep: Mapping[str, Any], facts: SiteFacts | frozenset[str]) -> SiteShares:
    """Which share of the element's mined mass comes from certified, flagged or unknown sites
    (docs/sites.md "Site facts"): local mine sites as the node's register knows them now, plus
    what folded supplier summaries reported. None where no register answered or nothing was
    mined. A flagged site counts as flagged even where certified (the screening asks for more)."""
    mined = sum(ep["c"].values())
    if not isinstance(facts, SiteFacts) or mined <= 1e-12:
        return SiteShares()
    flagged = float(ep["hx"])
    certified = float(ep.get("cx", 0.0))
    other = float(ep.get("ox", 0.0))
    found: dict[str, float] = dict(ep.get("fd", _NONE))
    for site, v in ep["s"].items():
        if site in facts.flagged:
            flagged += v
            f = facts.findings.get(site)
            if f is not None:
                k = _finding_key(f.dataset, f.reference, f.date)
                found[k] = found.get(k, 0.0) + v
        elif site in facts.certified:
            certified += v
        elif site in facts.known:
            other += v
    inv = 1.0 / mined
    findings = tuple(
        SiteFinding(dataset=d, reference=r, date=t, share=_clip(v * inv))
        for (d, r, t), v in sorted((tuple(k.split(_SEP, 2)), v) for k, v in found.items() if v > 0)
    )
    return SiteShares(
        certified=_clip(certified * inv),
        flagged=_clip(flagged * inv),
        unknown=_clip(1.0 - (certified + flagged + other) * inv),
        findings=findings,
    )


def _parts(ep: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, float], float]:
    """Mined and recycled series and the unknown share, shares of the element's mass summing to
    1 within float precision (docs/contracts.md: within 1e-9; the largest part takes the rest)."""
    c = {k: v for k, v in sorted(ep["c"].items()) if v > 0}
    r = {k: v for k, v in sorted(ep.get("r", _NONE).items()) if v > 0}
    u = max(0.0, ep["u"])
    total = sum(c.values()) + sum(r.values()) + u
    if total <= 0:
        return {}, {}, 1.0
    c = {k: v / total for k, v in c.items()}
    r = {k: v / total for k, v in r.items()}
    u = u / total
    rest = 1.0 - (sum(c.values()) + sum(r.values()) + u)
    big = max(
        [("c", k, v) for k, v in c.items()] + [("r", k, v) for k, v in r.items()] + [("u", "", u)], key=lambda x: x[2]
    )
    if big[0] == "c":
        c[big[1]] += rest
    elif big[0] == "r":
        r[big[1]] += rest
    else:
        u += rest
    return c, r, min(1.0, max(0.0, u))


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def element_shares(ep: Mapping[str, Any], high_risk_sites: Iterable[str]) -> ElementShares:
    """The figures of one element in an upstream summary 2.0 (docs/contracts.md), each on the
    basis ``SUMMARY_BASIS`` names. Where the element's whole mass is unknown, the series and the
    shares are None (not 0): nothing is known of them. ``high_risk_sites`` is the register's
    :class:`SiteFacts` (site shares computed) or a bare list of flagged ids (site shares None)."""
    facts = site_facts(high_risk_sites)
    c, r, u = _parts(ep)
    nothing = u >= 1.0 - 1e-12
    recycled_known = not nothing or ep["pre"] > 0 or ep["post"] > 0
    return ElementShares(
        mined_by_country=None if nothing else c,
        recycled_by_country=None if nothing else r,
        unknown_share=u,
        high_risk_share=_high_risk(ep, facts),
        recycled=Recycled(
            pre_consumer=_clip(ep["pre"]) if recycled_known else None,
            post_consumer=_clip(ep["post"]) if recycled_known else None,
        ),
        custody_models=_norm(ep["cm"]),
        # Art. 8 measures Co, Li and Ni against the element in active materials: the share of
        # the element that sits in active materials and the recycled shares of that part
        active_material=ActiveMaterial(
            share=_clip(ep["a"]),
            pre_consumer=_clip(ep["apre"]) if recycled_known else None,
            post_consumer=_clip(ep["apost"]) if recycled_known else None,
        ),
        sites=_site_shares(ep, facts),
    )


def element_view(ep: Mapping[str, Any], high_risk_sites: Iterable[str]) -> dict[str, Any]:
    """The shares of one element as the local trace reports them: the summary's figures
    (:func:`element_shares`, in their 2.0 wire form, so one definition each) and the origin by
    mine or recovery site and the CAHRA edition the register screens with, which only the local
    trace shows."""
    facts = site_facts(high_risk_sites)
    wire = encode_summary_element(element_shares(ep, facts))
    if isinstance(facts, SiteFacts) and isinstance(wire.get("sites"), dict):
        wire["sites"]["cahraDataset"] = facts.dataset  # the edition the flagged share was screened with
    wire["originBySite"] = _norm(ep["s"])
    return wire


def elements_of(profile: Profile) -> list[Element]:
    return [el for el in ELEMENTS if el._value_ in profile["e"]]
