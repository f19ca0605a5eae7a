"""Bridge between the Ouranos Ecosystem and Catena-X (docs/bridge.md): the identity crosswalk
(corporate number ⇄ BPNL ⇄ DID, plant ⇄ BPNS, trace id ⇄ twin id), kept as signed data; the hub's
link to its bridge for the recursive trace both ways (Japan → Europe answers, Europe → Japan
relays); cross-ecosystem publications; and the Catena-X suppliers a bridge represents on the hub,
answering Ouranos trade requests with their PCFs.

A cross-node workflow on top of the federation and the connector exchanges; it knows nothing of
the node, the demo or the command line."""

from pathlib import Path

from batpass.bridge._link import BridgeAnswers, BridgeRelay, HubFederation, HubLink, HubPartners, RelayQuestion
from batpass.bridge._proof import sign_entry, verify_entry
from batpass.bridge._reconcile_relay import BridgeCourier, hub_relay, hub_relay_many
from batpass.bridge._sites import HubSites
from batpass.bridge._trades import (
    BridgeTrades,
    HubAnswer,
    RepresentedProduct,
    convert_pcf,
    dqr_mapping_from_config,
    match_product,
    ratings_to_ouranos,
)
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

#: the bridge's Alembic versions: the crosswalk (branch ``bridge``) and the represented suppliers'
#: trades (``node_0002``, the id it had when it lived in ``node/``)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"

__all__ = [
    "MIGRATIONS_DIR",
    "AssertionPolicy",
    "BridgeAnswers",
    "BridgeCourier",
    "BridgeRelay",
    "BridgeTrades",
    "CrosswalkConflict",
    "CrosswalkEntry",
    "CrosswalkService",
    "EntryKind",
    "EntryMalformed",
    "HubAnswer",
    "HubFederation",
    "HubLink",
    "HubPartners",
    "HubSites",
    "OperatorLink",
    "PartLink",
    "RelayQuestion",
    "RepresentedProduct",
    "SignatureRejected",
    "SignedEntry",
    "SiteLink",
    "StoredEntry",
    "TrustedAsserters",
    "UntrustedAsserter",
    "convert_pcf",
    "dqr_mapping_from_config",
    "hub_relay",
    "hub_relay_many",
    "match_product",
    "ratings_to_ouranos",
    "sign_entry",
    "verify_entry",
]
