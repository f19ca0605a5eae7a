"""Bridge between the Ouranos Ecosystem and Catena-X: the identity crosswalk (corporate number ⇄
BPNL ⇄ DID, plant ⇄ BPNS, trace id ⇄ twin id), kept as signed data."""

from pathlib import Path

from batpass.bridge._proof import sign_entry, verify_entry
from batpass.bridge.errors import CrosswalkConflict, EntryMalformed, SignatureRejected, UntrustedAsserter
from batpass.bridge.model import (
    AssertionPolicy,
    CrosswalkEntry,
    EntryKind,
    OperatorLink,
    PartLink,
    SignedEntry,
    SiteLink,
    StoredEntry,
    TrustedAsserters,
)
from batpass.bridge.service import CrosswalkService

#: the bridge capability's Alembic branch (``bridge``)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"

__all__ = [
    "MIGRATIONS_DIR",
    "AssertionPolicy",
    "CrosswalkConflict",
    "CrosswalkEntry",
    "CrosswalkService",
    "EntryKind",
    "EntryMalformed",
    "OperatorLink",
    "PartLink",
    "SignatureRejected",
    "SignedEntry",
    "SiteLink",
    "StoredEntry",
    "TrustedAsserters",
    "UntrustedAsserter",
    "sign_entry",
    "verify_entry",
]
