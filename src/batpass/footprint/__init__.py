"""Carbon footprint: the normalised product footprint, its exchange formats (PACT v2/v3,
Catena-X PCF 9.0, the Ouranos CFP record), aggregation along a bill of materials and the PACT API.
"""

from pathlib import Path

from batpass.footprint._catenax_pcf import read_catenax, validate_catenax, write_catenax
from batpass.footprint._ouranos_cfp import (
    OURANOS_MAX,
    OuranosCfp,
    OuranosDqr,
    ouranos_parent_cfp,
    ouranos_round,
    ouranos_weighted_dqr,
)
from batpass.footprint._ouranos_map import OuranosDqrMapping, from_ouranos, header_for_ouranos, to_ouranos
from batpass.footprint._pact import read_pact, write_pact_v3
from batpass.footprint._pact_client import TokenCache
from batpass.footprint.model import (
    PER_KWH_LIFETIME_ENERGY,
    BomInput,
    DataQuality,
    DeclaredUnit,
    DqrScale,
    FootprintHeader,
    LifetimeEnergy,
    OwnEmissions,
    ProductFootprint,
    Quantity,
    Stage,
    StageSplit,
    SupplierRole,
    aggregate,
    per_kwh,
)
from batpass.footprint.service import (
    ClientCredentials,
    FootprintFilter,
    FootprintPage,
    IssuedToken,
    PactPeer,
    PactService,
)

#: the footprint branch's Alembic revisions (PACT API tables)
MIGRATIONS_DIR = Path(__file__).parent / "_migrations"

__all__ = [
    "MIGRATIONS_DIR",
    "OURANOS_MAX",
    "PER_KWH_LIFETIME_ENERGY",
    "BomInput",
    "ClientCredentials",
    "DataQuality",
    "DeclaredUnit",
    "DqrScale",
    "FootprintFilter",
    "FootprintHeader",
    "FootprintPage",
    "IssuedToken",
    "LifetimeEnergy",
    "OuranosCfp",
    "OuranosDqr",
    "OuranosDqrMapping",
    "OwnEmissions",
    "PactPeer",
    "PactService",
    "ProductFootprint",
    "Quantity",
    "Stage",
    "StageSplit",
    "SupplierRole",
    "TokenCache",
    "aggregate",
    "from_ouranos",
    "header_for_ouranos",
    "ouranos_parent_cfp",
    "ouranos_round",
    "ouranos_weighted_dqr",
    "per_kwh",
    "read_catenax",
    "read_pact",
    "to_ouranos",
    "validate_catenax",
    "write_catenax",
    "write_pact_v3",
]
