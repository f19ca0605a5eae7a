"""The site register: a node's mines and processing sites (operator, location, minerals,
certifications, due-diligence evidence), screened against a CAHRA data set (docs/sites.md)."""

from pathlib import Path

from batpass.sites._cahra import SAMPLE_PATH as CAHRA_SAMPLE
from batpass.sites._cahra import CahraDataset, load_cahra, parse_cahra
from batpass.sites.model import (
    ENHANCED_DUE_DILIGENCE,
    FINDING,
    NOT_LISTED,
    Certification,
    CertificationStatus,
    DueDiligenceEvidence,
    Scheme,
    Screening,
    Site,
    SiteType,
)
from batpass.sites.service import SiteService

MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"

__all__ = [
    "CAHRA_SAMPLE",
    "ENHANCED_DUE_DILIGENCE",
    "FINDING",
    "MIGRATIONS_DIR",
    "NOT_LISTED",
    "CahraDataset",
    "Certification",
    "CertificationStatus",
    "DueDiligenceEvidence",
    "Scheme",
    "Screening",
    "Site",
    "SiteService",
    "SiteType",
    "load_cahra",
    "parse_cahra",
]
