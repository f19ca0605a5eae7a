"""The leak scan: planted canaries looked for in every payload a node received (docs/architecture.md "Confidentiality").

docs/architecture.md "Confidentiality": a supplier's own suppliers and purchase quantities never leave its node unless
released; tests prove it "with planted canary values (supplier names, identifiers, quantities, and
the same quantities converted to other units) that must never reach a node not entitled to them".
The demo applies it to its car maker: the canaries are everything about the
companies *above* its direct supplier (the cell maker, whose identity it knows) and the cell
maker's purchase quantities; the payloads are the JSON Lines file written by
:mod:`batpass.http._payload_log`.

Canaries (:meth:`Canaries.from_scenario`):

- text: each company's legal name, code, ``Company.did`` and site id, the DIDs that own its events
  or appear as suppliers on receipts above the boundary, and any extra identifiers given (the
  BPNL, corporate number and DID of the node hosting it). A text that is also, or is part of, an
  identifier of a company *not* above the boundary (one node hosting both, say) is excluded, as
  are texts shorter than :data:`MIN_TEXT_LENGTH`; both are counted in ``excluded``.
- quantity: every quantity on the events of those companies (their lots in and out) and every
  quantity the boundary company received (its purchases), each in kg, g, t and lb (pieces also as
  their mass when the lot states its mass per piece). A quantity that equals one on the events of a
  company the recipient knows (``known``: e.g. the recycler, whose lots pass on to the cathode
  maker) is excluded and counted.

Matching:

- text canaries: case-insensitive substrings of the payload, in their plain, URL-encoded
  (``%20`` and ``+``) and JSON-escaped forms; payloads are also read URL-decoded, and every
  base64/base64url run (JWS/JWT segments, SD-JWT disclosures, base64 bodies) is decoded, to a
  depth of three, when it decodes to printable UTF-8.
- quantity canaries (the chance rule): only a canary whose recorded value has at least
  :data:`MIN_SIGNIFICANT_DIGITS` significant digits is looked for (the others are counted in
  ``excluded``), and only a number token written with at least as many significant digits can
  match it. A token matches a canary when they differ by at most one unit in the token's last
  written digit (so rounding, rounding up as Ouranos does, and truncation all match) plus a
  relative :data:`RELATIVE_TOLERANCE` for float representation. With five or more significant
  digits a chance match needs a number within 10⁻⁴ (relative) of one canary — rare, and rarer
  the more digits the token carries (a float written in full needs agreement to ~10⁻¹²).
  Number tokens are decimal numbers (exponent allowed, an optional ``kg``/``g``/``t``/``lb``
  suffix) standing alone: not part of a word, a dotted version or address, a ``host:port`` or a
  hyphenated identifier (UUIDs, dates); the host of a URL is never read for numbers.

One leak is one (payload, canary) pair; ``leaks_found`` counts them.

This module reads log files and a :class:`batpass.scenario.Scenario`; it knows no HTTP.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit

from batpass.core.errors import InvalidInput, NotFound
from batpass.scenario import COMPANIES, Scenario

__all__ = [
    "KG_PER_UNIT",
    "MIN_SIGNIFICANT_DIGITS",
    "MIN_TEXT_LENGTH",
    "RELATIVE_TOLERANCE",
    "Canaries",
    "QuantityCanary",
    "TextCanary",
    "scan",
    "scan_records",
    "significant_digits",
    "upstream_of",
]

#: the chance rule: quantities with fewer significant digits are not canaries
MIN_SIGNIFICANT_DIGITS = 5
#: relative slack on top of one unit in the token's last digit (float representation)
RELATIVE_TOLERANCE = 1e-12
#: shorter text canaries would match by chance (two-letter country codes, say)
MIN_TEXT_LENGTH = 6
#: mass units a quantity canary is converted into (the international pound, exactly)
KG_PER_UNIT: Mapping[str, float] = {"kg": 1.0, "g": 1e-3, "t": 1e3, "lb": 0.45359237}
#: how deep base64 inside decoded base64 is followed (a VC JWT inside a VP JWT inside a header)
_DECODE_DEPTH = 3

_SITE_COMPANY = {c.site: c.code for c in COMPANIES.values()}

_NUMBER = re.compile(
    r"(?<![\w.])(?<!\w[:\-])"  # not inside a word, a dotted number, host:port or a-hyphenated-id
    r"(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"(?:kg|g|t|lbs?)?"
    r"(?!\w|\.\d|-\w)"  # nor the head of an identifier such as the UUID 0711e989-f0b4-…
)
#: a written exponent beyond this is no quantity anyone ships (floats end near 1e308)
_MAX_EXPONENT = 300
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


#: what a decoded run may hold besides printable characters (deleted before str.isprintable)
_LINE_SPACE = str.maketrans("", "", "\t\r\n")

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class TextCanary:
    """A name or identifier; ``forms`` are the lower-cased spellings looked for."""

    kind: str  # name | code | did | site | identifier
    value: str
    forms: tuple[str, ...]


@dataclass(frozen=True)
class QuantityCanary:
    kind: str  # quantity (a lot of a company above the boundary) | purchase (received by the boundary)
    value: float
    unit: str


@dataclass(frozen=True)
class Canaries:
    """The canaries to look for, and what was left out under the rules (with counts)."""

    texts: tuple[TextCanary, ...]
    quantities: tuple[QuantityCanary, ...]
    excluded: Mapping[str, int]
    min_significant_digits: int = MIN_SIGNIFICANT_DIGITS
    #: lot ids of the companies above (a bill of materials leaking), lower-case UUIDs
    lots: frozenset[str] = frozenset()

    @cached_property
    def _sorted(self) -> tuple[list[float], list[int]]:
        """Quantity values in ascending order, with each one's index in ``quantities``."""
        order = sorted(range(len(self.quantities)), key=lambda i: self.quantities[i].value)
        return [self.quantities[i].value for i in order], order

    def __len__(self) -> int:
        return len(self.texts) + len(self.quantities) + len(self.lots)

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for kind in [t.kind for t in self.texts] + [q.kind for q in self.quantities]:
            out[kind] = out.get(kind, 0) + 1
        if self.lots:
            out["lot"] = len(self.lots)
        return dict(sorted(out.items()))

    def lots_in(self, text: str) -> set[str]:
        """The canary lot ids among the UUIDs written in ``text``."""
        if not self.lots:
            return set()
        return {m.group(0) for m in _UUID.finditer(text.lower())} & self.lots

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        above: Iterable[str],
        *,
        boundary: str = "osaka-cells",
        identifiers: Mapping[str, Iterable[str]] | None = None,
        known: Iterable[str] = (),
        min_significant_digits: int = MIN_SIGNIFICANT_DIGITS,
    ) -> Canaries:
        """Canaries for a recipient that may know ``boundary`` (its direct supplier) and
        ``known`` companies but nothing of the companies ``above`` (codes of
        :data:`batpass.scenario.COMPANIES`). ``identifiers`` maps company codes to further
        identifiers of theirs (BPNL, corporate number, DID of the node hosting them).

        ``excluded`` counts what the rules left out: ``text_shared`` (also an identifier of a
        company not above), ``text_too_short``, ``quantity_known`` (a mass on a ``known``
        company's events) and ``quantity_below_min_digits`` (the chance rule), one per distinct
        value and unit."""
        above_set = _codes(above, "above")
        known_set = _codes(known, "known")
        (boundary_code,) = _codes([boundary], "boundary")
        if boundary_code in above_set or above_set & known_set:
            raise InvalidInput(
                "a company is both above the boundary and known to the recipient",
                field="above",
                rule="leak_scan: above, boundary and known are disjoint",
            )
        if min_significant_digits < 1:
            raise InvalidInput(
                f"min_significant_digits must be at least 1, got {min_significant_digits}",
                field="min_significant_digits",
                rule="leak_scan: chance rule",
            )
        ids = {code: [str(i) for i in vals] for code, vals in (identifiers or {}).items()}
        _codes(ids, "identifiers")
        excluded = {
            "text_shared": 0,
            "text_too_short": 0,
            "quantity_known": 0,
            "quantity_below_min_digits": 0,
        }

        # --- text canaries
        wanted: dict[str, tuple[str, str]] = {}  # lower-cased value -> (kind, value)
        allowed: set[str] = set()
        owners: dict[str, set[str]] = {}
        supplier_dids: set[str] = set()
        for e in scenario.events:
            code = _SITE_COMPANY.get(str((e.get("site") or {}).get("id")))
            if code is None:
                continue
            owners.setdefault(code, set()).add(str(e.get("owner")))
            if e.get("kind") == "receipt" and (code in above_set or code == boundary_code):
                frm = (e.get("receipt") or {}).get("from_owner")
                if frm:
                    supplier_dids.add(str(frm))
        for code, c in COMPANIES.items():
            own = [("name", c.name), ("code", c.code), ("did", c.did), ("site", c.site)]
            own += [("did", d) for d in sorted(owners.get(code, ()))]
            own += [("identifier", i) for i in ids.get(code, [])]
            if code in above_set:
                for id_kind, ident in own:
                    wanted.setdefault(ident.lower(), (id_kind, ident))
            else:
                allowed.update(ident.lower() for _, ident in own)
        for d in sorted(supplier_dids):
            wanted.setdefault(d.lower(), ("did", d))
        texts: list[TextCanary] = []
        for low, (text_kind, text) in sorted(wanted.items()):
            if len(text) < MIN_TEXT_LENGTH:
                excluded["text_too_short"] += 1
            elif any(low in a for a in allowed):
                excluded["text_shared"] += 1
            else:
                texts.append(TextCanary(text_kind, text, _forms(text)))

        # --- quantity canaries
        known_masses: set[float] = set()
        originals: list[tuple[str, float, str, float | None]] = []  # (kind, value, unit, kg per piece)
        for e in scenario.events:
            code = _SITE_COMPANY.get(str((e.get("site") or {}).get("id")))
            inputs, outputs = list(e.get("inputs") or []), list(e.get("outputs") or [])
            if code in known_set:
                for it in (*inputs, *outputs):
                    known_masses.update(round(v * KG_PER_UNIT[u], 6) for v, u in _masses(it))
                continue
            if code in above_set:
                kind, items = "quantity", [*inputs, *outputs]
            elif code == boundary_code and e.get("kind") == "receipt":
                kind, items = "purchase", outputs
            else:
                continue
            for it in items:
                q = _quantity(it)
                if q is not None:
                    originals.append((kind, *q))
        seen: dict[tuple[str, float], QuantityCanary | None] = {}  # None: excluded under a rule
        for kind, value, unit, mpp in originals:
            recorded = [(value, unit)]
            if unit not in KG_PER_UNIT and mpp is not None:
                recorded.append((round(value * mpp, 6), "kg"))  # the mass of the pieces
            for v, u in recorded:
                reason: str | None = None
                if u in KG_PER_UNIT:
                    kg = v * KG_PER_UNIT[u]
                    forms = [(kg / f, to) for to, f in KG_PER_UNIT.items()]
                    if round(kg, 6) in known_masses:
                        reason = "quantity_known"
                else:
                    forms = [(v, u)]
                if reason is None and significant_digits(v) < min_significant_digits:
                    reason = "quantity_below_min_digits"
                for cv, cu in forms:
                    key = (cu, float(f"{cv:.12g}"))
                    if key in seen:
                        continue
                    seen[key] = None if reason else QuantityCanary(kind, cv, cu)
                    if reason:
                        excluded[reason] += 1
        quantities = tuple(q for q in seen.values() if q is not None)

        # --- lot ids: every lot the companies above hold, gave or received, except the ones a
        # company the recipient may know also names (e.g. the recycler's shipments to them)
        above_lots: set[str] = set()
        known_lots: set[str] = set()
        for e in scenario.events:
            code = _SITE_COMPANY.get(str((e.get("site") or {}).get("id")))
            named = {str(it.get("lot", "")).lower() for it in (*(e.get("inputs") or []), *(e.get("outputs") or []))}
            named |= {str((e.get(k) or {}).get(f, "")).lower() for k, f in (("receipt", "from_lot"),)}
            named.discard("")
            if code in above_set:
                above_lots |= named
            elif code in known_set:
                known_lots |= named
        excluded["lot_known"] = len(above_lots & known_lots)
        lots = frozenset(x for x in above_lots - known_lots if _UUID.fullmatch(x))
        return cls(tuple(texts), quantities, excluded, min_significant_digits, lots)

    # --- matching

    def texts_in(self, text: str) -> Iterator[int]:
        """Indexes of the text canaries found in ``text``."""
        low = text.lower()
        for i, c in enumerate(self.texts):
            for f in c.forms:  # a plain loop: any() over a generator costs more than the search
                if f in low:
                    yield i
                    break

    def quantities_in(self, text: str) -> Iterator[tuple[int, str]]:
        """(index of the quantity canary, the number token) for each match in ``text``."""
        values, order = self._sorted
        if not values:
            return
        for m in _NUMBER.finditer(text):
            token = m.group(1)
            precision = _precision(token)
            if precision is None:
                continue
            digits, ulp = precision
            if digits < self.min_significant_digits:
                continue
            t = float(token)
            tol = ulp + RELATIVE_TOLERANCE * t
            lo = bisect.bisect_left(values, t - tol)
            hi = bisect.bisect_right(values, t + tol)
            for k in range(lo, hi):
                yield order[k], token


def _codes(codes: Iterable[str], name: str) -> set[str]:
    out = set(codes)
    unknown = sorted(out - set(COMPANIES))
    if unknown:
        raise InvalidInput(f"unknown company codes {unknown}", field=name, rule="leak_scan: COMPANIES codes")
    return out


def _forms(value: str) -> tuple[str, ...]:
    escaped = json.dumps(value)[1:-1]
    forms = {
        value.lower(),
        quote(value, safe="").lower(),
        quote_plus(value, safe="").lower(),
        escaped.lower(),
        escaped.replace("/", "\\/").lower(),
    }
    return tuple(sorted(forms))


def _quantity(item: Mapping[str, Any]) -> tuple[float, str, float | None] | None:
    q = item.get("quantity")
    if not isinstance(q, Mapping):
        return None
    value, unit = q.get("value"), q.get("unit")
    if not isinstance(value, int | float) or isinstance(value, bool) or not isinstance(unit, str):
        return None
    mpp = item.get("mass_per_piece_kg")
    return float(value), unit, float(mpp) if isinstance(mpp, int | float) else None


def _masses(item: Mapping[str, Any]) -> list[tuple[float, str]]:
    """The masses a lot line states: its quantity in a mass unit, or pieces × mass per piece."""
    q = _quantity(item)
    if q is None:
        return []
    value, unit, mpp = q
    if unit in KG_PER_UNIT:
        return [(value, unit)]
    return [(value * mpp, "kg")] if mpp is not None else []


def significant_digits(value: float) -> int:
    """Significant digits of a recorded quantity (recorded to 6 decimals; trailing zeros, as in
    ``822.0`` or ``1200``, are not significant)."""
    d = Decimal(repr(round(abs(value), 6))).normalize()
    return 0 if d == 0 else len(d.as_tuple().digits)


def _precision(token: str) -> tuple[int, float] | None:
    """Significant digits of a number as written, and one unit in its last written digit
    (``1234.50`` → 6 digits, 0.01; ``1234000`` → 4 digits, 1000; ``1.2e3`` → 2 digits, 100);
    None when the number is beyond what a float holds (``1e999``)."""
    mantissa, _, exp = token.lower().partition("e")
    e = int(exp) if exp else 0
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    if abs(e) + len(whole) + len(frac) > _MAX_EXPONENT:
        return None
    if frac:
        return len(digits), 10.0 ** (e - len(frac))
    stripped = digits.rstrip("0")
    return len(stripped), 10.0 ** (e + len(digits) - len(stripped))


# --- reading payloads


def _decode_b64(run: str) -> str | None:
    s = run.rstrip("=").replace("+", "-").replace("/", "_")
    if len(s) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    # printable but for tabs and line breaks: str.isprintable in C once they are taken out
    if not text or not text.translate(_LINE_SPACE).isprintable():
        return None
    return text


def _expand(where: str, text: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """The text, its URL-decoded form, and every base64 run in it that decodes to text."""
    yield where, text
    if "%" in text or "+" in text:
        decoded = unquote_plus(text)
        if decoded != text:
            yield where + "/url-decoded", decoded
    if depth >= _DECODE_DEPTH:
        return
    for m in _BASE64_RUN.finditer(text):
        inner = _decode_b64(m.group(0))
        if inner is not None:
            yield from _expand(where + "/base64", inner, depth + 1)


def _record_texts(record: Mapping[str, Any]) -> Iterator[tuple[str, str, bool, bool]]:
    """(where, text, look for text canaries, look for numbers) for each part of a recorded
    payload; numbers are never read from a URL's host and port."""
    url = str(record.get("url", ""))
    parts = urlsplit(url)
    for where, text in _expand("url", url):
        yield where, text, True, False
    for where, text in _expand("url", parts.path + ("?" + parts.query if parts.query else "")):
        yield where, text, False, True
    headers = record.get("headers") or {}
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            for where, text in _expand(f"header:{str(name).lower()}", str(value)):
                yield where, text, True, True
    body = record.get("body")
    if isinstance(body, str) and body:
        if record.get("body_encoding") == "base64":
            with contextlib.suppress(binascii.Error, ValueError):
                body = base64.b64decode(body).decode("utf-8", errors="replace")
        for where, text in _expand("body", body):
            yield where, text, True, True


def _redact(value: str | float, unit: str | None = None) -> str:
    if isinstance(value, str):
        return f"{value[:3]}…[{len(value)} chars]"
    return f"~{value:.2g} {unit}"


def payloads_in(record: Mapping[str, Any]) -> int:
    """How many payloads a recorded request or response carried: one, or each signed message of
    a batch (a JSON array of ``{"jws"}`` bodies, or the array of ``{"status", "body"}`` answering
    one: docs/outflows.md "Several messages in one request"), as each was counted when it came
    alone — so ``payloads_scanned`` does not depend on how the messages were batched."""
    body = record.get("body")
    if not isinstance(body, str) or not body.startswith(_BATCH_STARTS) or record.get("body_encoding"):
        return 1
    try:
        items = json.loads(body)
    except ValueError:
        return 1
    if isinstance(items, list) and items and all(isinstance(i, dict) and set(i) in _BATCH_ITEMS for i in items):
        return len(items)
    return 1


#: how a batch's body starts (json.dumps or a client's compact JSON) and its items' keys
_BATCH_STARTS = ('[{"jws"', '[{"status"', '[{"body"')
_BATCH_ITEMS = ({"jws"}, {"status", "body"})


def scan_records(records: Iterable[Mapping[str, Any]], canaries: Canaries) -> dict[str, Any]:
    """Scan recorded payloads (the dicts of a payload log) for the canaries."""
    leaks: list[dict[str, Any]] = []
    scanned = 0
    for index, record in enumerate(records):
        scanned += payloads_in(record)
        found: dict[tuple[str, int], str] = {}
        lot_hits: dict[str, str] = {}
        for where, text, names, numbers in _record_texts(record):
            if names:
                for i in canaries.texts_in(text):
                    found.setdefault(("text", i), where)
            if numbers:
                for i, _token in canaries.quantities_in(text):
                    found.setdefault(("quantity", i), where)
            for lot in sorted(canaries.lots_in(text)):
                lot_hits.setdefault(lot, where)
        url = str(record.get("url", "")).split("?", 1)[0][:160]
        for (family, i), where in sorted(found.items()):
            if family == "text":
                t = canaries.texts[i]
                kind, shown = t.kind, _redact(t.value)
            else:
                q = canaries.quantities[i]
                kind, shown = q.kind, _redact(q.value, q.unit)
            leaks.append(
                {
                    "canary_kind": kind,
                    "canary": shown,
                    "canary_id": f"{family}:{i}",  # index into Canaries.texts / .quantities
                    "payload_index": index,
                    "direction": record.get("direction"),
                    "url": url,
                    "where": where,
                }
            )
        for lot, where in lot_hits.items():
            leaks.append(
                {
                    "canary_kind": "lot",
                    "canary": _redact(lot),
                    "canary_id": f"lot:{lot[:8]}",
                    "payload_index": index,
                    "direction": record.get("direction"),
                    "url": url,
                    "where": where,
                }
            )
    return {
        "payloads_scanned": scanned,
        "canaries": len(canaries),
        "leaks_found": len(leaks),
        "leaks": leaks,
        "canaries_by_kind": canaries.by_kind(),
        "excluded": dict(canaries.excluded),
        "rule": {
            "min_significant_digits": canaries.min_significant_digits,
            "tolerance": "one unit in the token's last written digit",
            "relative_tolerance": RELATIVE_TOLERANCE,
            "min_text_length": MIN_TEXT_LENGTH,
        },
    }


def scan(log_path: Path, canaries: Canaries) -> dict[str, Any]:
    """Scan a payload log (JSON Lines, :mod:`batpass.http._payload_log`). A line that is not a
    JSON object (a line cut short when a node was killed) is counted in ``unreadable_lines``."""
    if not log_path.is_file():
        raise NotFound(
            f"no payload log at {log_path}", rule="enable recording with config extra 'payload_log' before the run"
        )
    unreadable = 0

    def records() -> Iterator[Mapping[str, Any]]:
        nonlocal unreadable
        with log_path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    unreadable += 1
                    continue
                if isinstance(rec, dict):
                    yield rec
                else:
                    unreadable += 1

    report = scan_records(records(), canaries)
    report["unreadable_lines"] = unreadable
    return report


def upstream_of(scenario: Scenario, boundary: str, *, stop_at: Iterable[str] = ()) -> frozenset[str]:
    """The companies whose goods reach ``boundary`` through shipments, tier by tier, without
    passing through a company in ``stop_at`` (the recipient itself and the partners it knows:
    the recycler's material returns to the cathode maker, and the car maker's batteries to the
    recycler, so without a stop the loop makes everyone upstream of everyone)."""
    (b,) = _codes([boundary], "boundary")
    stops = _codes(stop_at, "stop_at")
    suppliers: dict[str, set[str]] = {}
    for e in scenario.events:
        if e.get("kind") != "shipment":
            continue
        src = _SITE_COMPANY.get(str((e.get("site") or {}).get("id")))
        dst = _SITE_COMPANY.get(str(((e.get("shipment") or {}).get("to_site") or {}).get("id")))
        if src is not None and dst is not None and src != dst:
            suppliers.setdefault(dst, set()).add(src)
    out: set[str] = set()
    todo = [b]
    while todo:
        for s in suppliers.get(todo.pop(), ()):
            if s not in out and s not in stops and s != b:
                out.add(s)
                todo.append(s)
    return frozenset(out)
