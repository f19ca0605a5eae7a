"""Recycled content per Art. 8 of Regulation (EU) 2023/1542, on the regulation's basis: per
battery model and batch per manufacturing plant (the batch is the production year until lots
carry batch numbers). Co, Li and Ni recovered from waste are measured against the element's mass
in active materials, Pb against the battery; pre- and post-consumer apart; run-around scrap never
counts. This is the one definition of the figure: the ledger's API, the passport, the compliance
report and the demo's ``summary.json`` all show it, each with its :data:`ART8_BASIS`.

A battery's upstream summary also has recycled shares, of the element's mass in that one battery
by mass balance along its custody chain (``battery_mass_balance``); where shown, that figure is
labelled so.

Mass no received supplier summary covers yet is unknown: its share is ``unknown_mass_share``, and
where nothing of an element's mass is known its shares are ``None`` (unknown), never 0. Pure: no
storage; the service gives it the rows.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from batpass.ledger._materials import Element
from batpass.ledger._rows import profile_of
from batpass.ledger.model import Lot

__all__ = [
    "ART8_BASIS",
    "ART8_ELEMENTS",
    "BATTERY_MASS_BALANCE",
    "GroupsMemo",
    "group_key",
    "recycled_content_groups",
]

#: the basis of the Art. 8 figure: battery model and batch per manufacturing plant
ART8_BASIS = "art8_model_batch_plant"
#: the basis of a battery's own (upstream summary) recycled shares
BATTERY_MASS_BALANCE = "battery_mass_balance"
ART8_ELEMENTS = (Element.CO, Element.LI, Element.NI, Element.PB)
#: below this, a share is float noise: "nothing known" / "all known"
_EPS = 1e-12


def group_key(lot: Lot) -> tuple[str, int, str]:
    """The Art. 8 group of a battery lot: (model, batch = production year, plant = its site)."""
    assert lot.battery is not None
    return lot.battery.model, lot.produced_at.year, lot.site


def recycled_content_groups(
    lots: Iterable[Lot],
    claims: Sequence[Any],
    claim_json: Any,
    *,
    model: str | None = None,
    year: int | None = None,
    plant: str | None = None,
) -> list[dict[str, Any]]:
    """The Art. 8 figure of each (model, batch, plant) group of ``lots`` (battery lots), filtered
    by ``model``/``year``/``plant``; ``claims`` are the owner's credit claims, listed per group
    with their custody model (book-and-claim flagged as not accepted: ISO 22095:2020)."""
    groups: dict[tuple[str, int, str], dict[str, Any]] = {}
    for lot in lots:
        key = group_key(lot)
        if (model and key[0] != model) or (year and key[1] != year) or (plant and key[2] != plant):
            continue
        g = groups.setdefault(key, {"batteries": 0, "acc": {}, "ids": set()})
        g["batteries"] += 1
        assert lot.battery is not None
        g["ids"].add(lot.battery.id)
        prof = profile_of(lot)
        for el in ART8_ELEMENTS:
            ep = prof["e"].get(el.value)
            if ep is None:
                continue
            m = lot.element_kg(el)
            acc = g["acc"].setdefault(
                el.value, {"basis_kg": 0.0, "pre_kg": 0.0, "post_kg": 0.0, "unknown_kg": 0.0, "cm": {}}
            )
            if el is Element.PB:
                basis, pre, post = m, m * ep["pre"], m * ep["post"]
            else:
                basis = m * ep["a"]
                pre, post = basis * ep["apre"], basis * ep["apost"]
            acc["basis_kg"] += basis
            acc["pre_kg"] += pre
            acc["post_kg"] += post
            acc["unknown_kg"] += basis * ep["u"]
            for k, v in ep["cm"].items():
                acc["cm"][k] = acc["cm"].get(k, 0.0) + v * m
    out = []
    for (mdl, yr, pl), g in sorted(groups.items()):
        out.append(
            {
                "model": mdl,
                "year": yr,
                "batch": str(yr),
                "plant": pl,
                "basis": ART8_BASIS,
                "batteries": g["batteries"],
                "elements": {el: art8_figure(el, acc) for el, acc in sorted(g["acc"].items())},
                "claims": [
                    dict(claim_json(c, []), accepted_for_art8=c.custody != "book_and_claim" and c.status == "accepted")
                    for c in claims
                    if c.subject in g["ids"]
                ],
            }
        )
    return out


def art8_figure(el: str, acc: Mapping[str, Any]) -> dict[str, Any]:
    """One element's Art. 8 figure from its group's masses: the shares of the reference mass
    (active materials, or the battery for Pb), ``None`` where nothing of it is known yet."""
    b = acc["basis_kg"]
    unknown = min(1.0, max(0.0, acc["unknown_kg"] / b)) if b > 0 else 1.0
    known = unknown < 1.0 - _EPS or acc["pre_kg"] > 0 or acc["post_kg"] > 0
    tot_cm = sum(acc["cm"].values()) or 1.0
    return {
        "basis": ART8_BASIS,
        "reference": "battery" if el == "Pb" else "active_materials",
        "pre_consumer": acc["pre_kg"] / b if known and b > 0 else None,
        "post_consumer": acc["post_kg"] / b if known and b > 0 else None,
        "unknown_mass_share": unknown,
        "custody_models": {k: v / tot_cm for k, v in sorted(acc["cm"].items())},
    }


class GroupsMemo:
    """The last Art. 8 groups computed per (owner, filter), kept with a stamp of the rows they
    came from.

    The figure is a pure function of the owner's battery-lot rows (their profiles included) and
    claim rows, so rows equal to the last ones give the same groups without decoding the lots
    again: a passport build asks for its battery's group once per battery, and a node building
    its whole fleet read and decoded every battery lot of the group for each (quadratic in the
    batteries). The stamp is every column of those rows with each profile named by its digest
    (the SHA-256 of its text) instead of its text, read afresh on every question: any change to
    a lot, its profile (a received summary recomputes it) or a claim computes afresh, on any
    process sharing the store. Each answer is a copy (callers may change it); bounded,
    thread-safe."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._last: dict[tuple[Any, ...], tuple[Any, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def cached(self, key: tuple[Any, ...], stamp: Any) -> list[dict[str, Any]] | None:
        """A copy of the groups kept under ``key`` (owner and filter) if they were computed from
        rows whose stamp equals ``stamp``, else None."""
        with self._lock:
            hit = self._last.get(key)
        if hit is not None and hit[0] == stamp:
            return copy.deepcopy(hit[1])
        return None

    def keep(self, key: tuple[Any, ...], stamp: Any, groups: list[dict[str, Any]]) -> None:
        """Keep (a copy of) ``groups``, computed from rows whose stamp is ``stamp``."""
        with self._lock:
            if len(self._last) >= self._size:
                self._last.clear()
            self._last[key] = (stamp, copy.deepcopy(groups))
