"""Participants and their sites, with identifiers in both ecosystems (pure).

A participant has a legal name, a country, a BPNL (Catena-X) and/or a Japanese corporate number
(Ouranos side), an optional LEI (ISO 17442), sites (BPNS / Ouranos plant id, geolocation,
country) and a DID.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stdnum import lei as _lei
from stdnum.exceptions import ValidationError as _StdnumError

from batpass.core.countries import country as _country
from batpass.core.errors import InvalidIdentifier, InvalidInput
from batpass.core.ids import Bpnl, Bpns, CorporateNumber, Did, OuranosPlantId

__all__ = ["GeoLocation", "Participant", "Site"]


def _lei_value(value: str) -> str:
    try:
        return str(_lei.validate(value))
    except _StdnumError as exc:
        raise InvalidIdentifier(value, id_kind="LEI", rule="ISO 17442: 20 characters, ISO 7064 mod 97-10") from exc


@dataclass(frozen=True, slots=True)
class GeoLocation:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0:
            raise InvalidInput(f"latitude {self.latitude} out of range", field="latitude", rule="-90..90 (WGS 84)")
        if not -180.0 <= self.longitude <= 180.0:
            raise InvalidInput(f"longitude {self.longitude} out of range", field="longitude", rule="-180..180 (WGS 84)")


def _location(loc: Any) -> GeoLocation:
    """``{latitude, longitude}``, both finite numbers (NaN fails the range checks)."""
    if not isinstance(loc, dict):
        raise InvalidInput("location: expected {latitude, longitude}", field="location", rule="WGS 84 coordinates")
    coords = []
    for name in ("latitude", "longitude"):
        value = loc.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"location.{name}: expected a number", field=f"location.{name}", rule="WGS 84")
        coords.append(float(value))
    return GeoLocation(coords[0], coords[1])


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    country: str
    bpns: Bpns | None = None
    plant_id: OuranosPlantId | None = None
    location: GeoLocation | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("a site needs a name", field="sites.name", rule="non-empty")
        object.__setattr__(self, "country", _country(self.country, field="sites.country"))
        if self.bpns is not None:
            object.__setattr__(self, "bpns", Bpns(self.bpns))
        if self.plant_id is not None:
            object.__setattr__(self, "plant_id", OuranosPlantId(self.plant_id))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "country": self.country,
            "bpns": self.bpns,
            "plantId": self.plant_id,
            "location": None
            if self.location is None
            else {"latitude": self.location.latitude, "longitude": self.location.longitude},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Site:
        loc = data.get("location")
        return cls(
            name=data.get("name", ""),
            country=data.get("country", ""),
            bpns=data.get("bpns"),
            plant_id=data.get("plantId"),
            location=None if not loc else _location(loc),
        )


@dataclass(frozen=True, slots=True)
class Participant:
    legal_name: str
    country: str
    did: Did
    bpnl: Bpnl | None = None
    corporate_number: CorporateNumber | None = None
    lei: str | None = None
    sites: tuple[Site, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.legal_name.strip():
            raise InvalidInput("a participant needs a legal name", field="legal_name", rule="non-empty")
        object.__setattr__(self, "country", _country(self.country))
        object.__setattr__(self, "did", Did(self.did))
        if self.bpnl is not None:
            object.__setattr__(self, "bpnl", Bpnl(self.bpnl))
        if self.corporate_number is not None:
            object.__setattr__(self, "corporate_number", CorporateNumber(self.corporate_number))
        if self.lei is not None:
            object.__setattr__(self, "lei", _lei_value(self.lei))

    def to_json(self) -> dict[str, Any]:
        return {
            "legalName": self.legal_name,
            "country": self.country,
            "did": self.did,
            "bpnl": self.bpnl,
            "corporateNumber": self.corporate_number,
            "lei": self.lei,
            "sites": [s.to_json() for s in self.sites],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Participant:
        return cls(
            legal_name=data.get("legalName", ""),
            country=data.get("country", ""),
            did=data.get("did", ""),
            bpnl=data.get("bpnl"),
            corporate_number=data.get("corporateNumber"),
            lei=data.get("lei"),
            sites=tuple(Site.from_json(s) for s in data.get("sites") or ()),
        )
