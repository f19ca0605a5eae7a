"""Mining and processing sites of a node's register, their certifications, due-diligence evidence
and CAHRA screening (pure: no storage, no HTTP).

A site is located by its country (ISO 3166-1 alpha-2), its region (ISO 3166-2 subdivision of that
country, checked against the ISO 3166-2 table that ``pycountry`` ships) and WGS 84 coordinates;
a site without any of them is refused naming the field. Certifications follow the fields the
schemes publish (docs/sites.md): scheme, status, level, valid until, and a certifier's credential
as evidence where one is issued. Due diligence under Reg. (EU) 2023/1542 Art. 47–52 is recorded
as evidence items (risk assessment, audit, the operator's finding on a CAHRA flag).

A screening against a CAHRA list is a signal, never a verdict: a site in a listed region is
flagged "enhanced due diligence required" (Reg. (EU) 2017/821 Art. 14(2): the list is indicative
and non-exhaustive, so a site outside it is "not listed", never "cleared"). Every screening names
the data set (name and version) it was made with.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pycountry

from batpass.core.countries import country as _country
from batpass.core.errors import InvalidInput

__all__ = [
    "ENHANCED_DUE_DILIGENCE",
    "FINDING",
    "NEWLY_LISTED",
    "NOT_LISTED",
    "NO_LONGER_LISTED",
    "Certification",
    "CertificationStatus",
    "DueDiligenceEvidence",
    "Scheme",
    "Screening",
    "Site",
    "SiteType",
    "is_subdivision",
    "subdivision",
]

#: the screening outcome of a site in a listed region (a signal, not a verdict)
ENHANCED_DUE_DILIGENCE = "enhanced due diligence required"
#: the outcome of a site outside every listed region: indicative list, so no clearance
NOT_LISTED = "not listed (the list is indicative and non-exhaustive)"
#: how a site's screening changed with a newer CAHRA edition
NEWLY_LISTED = "newly listed"
NO_LONGER_LISTED = "no longer listed"
#: the kind of due-diligence item that records the operator's finding on a flagged site: a
#: certifier declines "no high-risk origin" over a flagged site until there is one
FINDING = "CAHRA finding"

_SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
#: path segments of ``/v1/sites`` that are not sites
_RESERVED = frozenset({"overview", "cahra"})
_ISO_3166_2 = "ISO 3166-2 subdivision code of the site's country (e.g. CD-LU)"


class SiteType(StrEnum):
    """What happens at the site (the supply-chain step of Annex X due diligence)."""

    MINE = "mine"
    CONCENTRATOR = "concentrator"
    SMELTER = "smelter"
    REFINERY = "refinery"
    PROCESSING = "processing"
    RECYCLER = "recycler"


class Scheme(StrEnum):
    """Site and facility schemes (docs/sites.md "Schemes"): IRMA audits mine sites, RMI RMAP
    smelters and refiners, the Copper/Nickel/Zinc Mark sites of every kind; ICMM validates member
    assets."""

    IRMA = "IRMA"
    RMI_RMAP = "RMI RMAP"
    COPPER_MARK = "Copper Mark"
    NICKEL_MARK = "Nickel Mark"
    ZINC_MARK = "Zinc Mark"
    ICMM = "ICMM Mining Principles"


class CertificationStatus(StrEnum):
    """A certification's status as the schemes publish it ("conformant" and "active" are RMI
    RMAP's words, "certified" the others')."""

    CERTIFIED = "certified"
    CONFORMANT = "conformant"
    ACTIVE = "active"
    IN_ASSESSMENT = "in assessment"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


#: statuses under which a certification counts (when not past ``valid_until``)
_COUNTS = frozenset({CertificationStatus.CERTIFIED, CertificationStatus.CONFORMANT, CertificationStatus.ACTIVE})


def is_subdivision(code: str) -> bool:
    """Whether ``code`` is in the ISO 3166-2 table ``pycountry`` ships."""
    return pycountry.subdivisions.get(code=code) is not None  # type: ignore[no-untyped-call]


def subdivision(code: str, *, country: str, field: str = "region") -> str:
    """``code`` as an ISO 3166-2 subdivision of ``country``, or :class:`InvalidInput` naming
    ``field``."""
    value = code.strip().upper() if isinstance(code, str) else ""
    if not value:
        raise InvalidInput("a site needs its region", field=field, rule=_ISO_3166_2)
    if not is_subdivision(value):
        raise InvalidInput(f"{field} '{value}' is no ISO 3166-2 subdivision", field=field, rule=_ISO_3166_2)
    if value.split("-", 1)[0] != country:
        message = f"{field} '{value}' lies outside the site's country {country}"
        raise InvalidInput(message, field=field, rule=_ISO_3166_2)
    return value


def _date(value: Any, field: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(f"{field}: '{value}' is not a date", field=field, rule="ISO 8601 date (YYYY-MM-DD)") from exc


def _text(data: Mapping[str, Any], key: str, field: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"{field} is required", field=field, rule="non-empty text")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: expected text", field=field, rule="text")
    return value.strip()


@dataclass(frozen=True, slots=True)
class Certification:
    """One scheme's certification of a site; ``credential`` is the certifier's signed credential
    (a JWS or SD-JWT) where the scheme issues one, kept as evidence."""

    scheme: Scheme
    status: CertificationStatus
    level: str | None = None
    valid_until: dt.date | None = None
    certifier: str | None = None
    credential: str | None = None
    report_url: str | None = None

    def counts_on(self, day: dt.date) -> bool:
        """Whether the certification stands on ``day``: a counting status, not expired."""
        return self.status in _COUNTS and (self.valid_until is None or day <= self.valid_until)

    def to_json(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme.value,
            "status": self.status.value,
            "level": self.level,
            "validUntil": None if self.valid_until is None else self.valid_until.isoformat(),
            "certifier": self.certifier,
            "credential": self.credential,
            "reportUrl": self.report_url,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, path: str = "certifications") -> Certification:
        scheme = _text(data, "scheme", f"{path}.scheme")
        status = _text(data, "status", f"{path}.status")
        try:
            sch = Scheme(str(scheme))
        except ValueError:
            known = ", ".join(s.value for s in Scheme)
            raise InvalidInput(
                f"{path}.scheme: unknown scheme '{scheme}'", field=f"{path}.scheme", rule=f"one of {known}"
            ) from None
        try:
            st = CertificationStatus(str(status))
        except ValueError:
            known = ", ".join(s.value for s in CertificationStatus)
            raise InvalidInput(
                f"{path}.status: unknown status '{status}'", field=f"{path}.status", rule=f"one of {known}"
            ) from None
        return cls(
            scheme=sch,
            status=st,
            level=_text(data, "level", f"{path}.level", required=False),
            valid_until=_date(data.get("validUntil"), f"{path}.validUntil"),
            certifier=_text(data, "certifier", f"{path}.certifier", required=False),
            credential=_text(data, "credential", f"{path}.credential", required=False),
            report_url=_text(data, "reportUrl", f"{path}.reportUrl", required=False),
        )


@dataclass(frozen=True, slots=True)
class DueDiligenceEvidence:
    """An item of the operator's due diligence (Art. 48–52): its kind (risk assessment, audit,
    the operator's finding on a CAHRA flag, ...), a reference to the document and its date. A
    finding names the CAHRA data set (``name@version``) the site was screened with when it was
    made (``dataset``; the register stamps it)."""

    kind: str
    reference: str
    date: dt.date
    summary: str | None = None
    dataset: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "reference": self.reference,
            "date": self.date.isoformat(),
            "summary": self.summary,
        }
        if self.dataset is not None:
            out["dataset"] = self.dataset
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, path: str = "dueDiligence") -> DueDiligenceEvidence:
        day = _date(data.get("date"), f"{path}.date")
        if day is None:
            raise InvalidInput(f"{path}.date is required", field=f"{path}.date", rule="ISO 8601 date (YYYY-MM-DD)")
        return cls(
            kind=str(_text(data, "kind", f"{path}.kind")),
            reference=str(_text(data, "reference", f"{path}.reference")),
            date=day,
            summary=_text(data, "summary", f"{path}.summary", required=False),
            dataset=_text(data, "dataset", f"{path}.dataset", required=False),
        )


@dataclass(frozen=True, slots=True)
class Screening:
    """A site's screening against one CAHRA data set: the outcome, the data set (``name@version``)
    and, where listed, the region's flags. Screened again with another edition, it names the
    edition before (``previous``) and, where the outcome changed, how (``change``: "newly
    listed" or "no longer listed")."""

    dataset: str
    outcome: str
    region: str
    conflict_affected: bool = False
    high_risk: bool = False
    previous: str | None = None
    change: str | None = None

    def after(self, before: Screening | None) -> Screening:
        """This screening as it follows ``before`` (the site's screening until now)."""
        if before is None:
            return self
        if before.dataset == self.dataset:  # the same edition again: its history stands
            return dataclasses.replace(self, previous=before.previous, change=before.change)
        change = None
        if before.flagged != self.flagged:
            change = NEWLY_LISTED if self.flagged else NO_LONGER_LISTED
        return dataclasses.replace(self, previous=before.dataset, change=change)

    @property
    def flagged(self) -> bool:
        return self.outcome == ENHANCED_DUE_DILIGENCE

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "outcome": self.outcome,
            "region": self.region,
            "conflictAffected": self.conflict_affected,
            "highRisk": self.high_risk,
            "previous": self.previous,
            "change": self.change,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Screening:
        return cls(
            dataset=str(data["dataset"]),
            outcome=str(data["outcome"]),
            region=str(data["region"]),
            conflict_affected=bool(data.get("conflictAffected")),
            high_risk=bool(data.get("highRisk")),
            previous=str(data["previous"]) if data.get("previous") else None,
            change=str(data["change"]) if data.get("change") else None,
        )


def _coordinate(data: Mapping[str, Any], name: str, limit: float) -> float:
    loc = data.get("location")
    value = loc.get(name) if isinstance(loc, Mapping) else None
    path = f"location.{name}"
    if value is None:
        raise InvalidInput(f"a site needs its coordinates ({path})", field=path, rule="WGS 84 coordinates")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{path}: expected a number", field=path, rule="WGS 84 coordinates")
    if not -limit <= value <= limit:
        raise InvalidInput(f"{path} {value} out of range", field=path, rule=f"-{limit:g}..{limit:g} (WGS 84)")
    return float(value)


@dataclass(frozen=True, slots=True)
class Site:
    """A site of the register. ``shared_with`` lists the partner DIDs entitled to its full record
    (everyone else sees its public summary, :meth:`public_json`)."""

    site_id: str
    name: str
    operator: str
    site_type: SiteType
    country: str
    region: str
    latitude: float
    longitude: float
    minerals: tuple[str, ...]
    certifications: tuple[Certification, ...] = ()
    due_diligence: tuple[DueDiligenceEvidence, ...] = ()
    shared_with: tuple[str, ...] = ()
    screening: Screening | None = field(default=None, compare=False)

    def certified_on(self, day: dt.date) -> bool:
        return any(c.counts_on(day) for c in self.certifications)

    def finding(self) -> DueDiligenceEvidence | None:
        """The operator's latest finding on the site's CAHRA flag (an item of kind
        :data:`FINDING`), or None."""
        found = [d for d in reversed(self.due_diligence) if d.kind == FINDING]
        return max(found, key=lambda d: d.date) if found else None  # of one date: the last recorded

    def finding_dataset(self, finding: DueDiligenceEvidence) -> str | None:
        """The CAHRA edition ``finding`` was made against (one recorded before editions were
        stamped: the edition in use)."""
        return finding.dataset or (None if self.screening is None else self.screening.dataset)

    def finding_json(self) -> dict[str, Any] | None:
        """The operator's latest finding with the edition it was made against and whether that is
        the edition the site is screened with now (``current``); None without one."""
        f = self.finding()
        if f is None:
            return None
        dataset = self.finding_dataset(f)
        current = self.screening is not None and dataset == self.screening.dataset
        return {"reference": f.reference, "date": f.date.isoformat(), "dataset": dataset, "current": current}

    def with_screening(self, screening: Screening | None) -> Site:
        return dataclasses.replace(self, screening=screening)

    def public_json(self, *, today: dt.date) -> dict[str, Any]:
        """What anyone may read: where (country and region, no coordinates), what, which schemes
        certify it and its screening; not the operator, the credentials or the evidence."""
        return {
            "siteId": self.site_id,
            "siteType": self.site_type.value,
            "country": self.country,
            "region": self.region,
            "minerals": list(self.minerals),
            "certified": self.certified_on(today),
            "certifications": [
                {"scheme": c.scheme.value, "status": c.status.value, "level": c.level} for c in self.certifications
            ],
            "screening": None if self.screening is None else self.screening.to_json(),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "siteId": self.site_id,
            "name": self.name,
            "operator": self.operator,
            "siteType": self.site_type.value,
            "country": self.country,
            "region": self.region,
            "location": {"latitude": self.latitude, "longitude": self.longitude},
            "minerals": list(self.minerals),
            "certifications": [c.to_json() for c in self.certifications],
            "dueDiligence": [d.to_json() for d in self.due_diligence],
            "sharedWith": list(self.shared_with),
            "screening": None if self.screening is None else self.screening.to_json(),
            "cahraFinding": self.finding_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Site:
        """A site from its wire form (the register's input), checked field by field."""
        site_id = _text(data, "siteId", "siteId")
        if not _SITE_ID.match(str(site_id)) or site_id in _RESERVED:
            raise InvalidInput(
                f"siteId '{site_id}' is not a site id",
                field="siteId",
                rule="1-128 of A-Z a-z 0-9 . _ : -, not 'overview' or 'cahra'",
            )
        kind = _text(data, "siteType", "siteType")
        try:
            site_type = SiteType(str(kind))
        except ValueError:
            known = ", ".join(t.value for t in SiteType)
            raise InvalidInput(
                f"siteType: unknown site type '{kind}'", field="siteType", rule=f"one of {known}"
            ) from None
        raw_country = _text(data, "country", "country")
        country = _country(str(raw_country).upper())
        region = subdivision(str(_text(data, "region", "region")), country=country)
        minerals = data.get("minerals")
        if not isinstance(minerals, list) or not minerals or not all(isinstance(m, str) and m for m in minerals):
            raise InvalidInput(
                "minerals: a site names the minerals it produces", field="minerals", rule="non-empty list of text"
            )
        certs = data.get("certifications") or []
        evidence = data.get("dueDiligence") or []
        shared = data.get("sharedWith") or []
        if not isinstance(certs, list) or not isinstance(evidence, list) or not isinstance(shared, list):
            raise InvalidInput("certifications, dueDiligence and sharedWith are lists", field="site", rule="lists")
        return cls(
            site_id=str(site_id),
            name=str(_text(data, "name", "name")),
            operator=str(_text(data, "operator", "operator")),
            site_type=site_type,
            country=country,
            region=region,
            latitude=_coordinate(data, "latitude", 90.0),
            longitude=_coordinate(data, "longitude", 180.0),
            minerals=tuple(sorted(set(minerals))),
            certifications=tuple(
                Certification.from_json(c, path=f"certifications[{i}]") for i, c in enumerate(_objects(certs))
            ),
            due_diligence=tuple(
                DueDiligenceEvidence.from_json(d, path=f"dueDiligence[{i}]") for i, d in enumerate(_objects(evidence))
            ),
            shared_with=tuple(str(d) for d in shared),
            screening=None if not data.get("screening") else Screening.from_json(data["screening"]),
        )


def _objects(items: list[Any]) -> list[Mapping[str, Any]]:
    for item in items:
        if not isinstance(item, Mapping):
            raise InvalidInput("expected an object", field="site", rule="list of objects")
    return items
