"""Tables of the PACT API (footprint branch): footprints served, their filter keys, OAuth2
clients and access tokens, the PACT events received; and for the requesting side the
credentials partners gave this node and the requests it sent.

The secrets of this node's own clients and the access tokens it issues are stored as SHA-256
digests only: both are 256-bit random values generated here, so a plain digest is enough (as for
the node's admin key). A partner's secret (``pact_peers``) must be presented, so it is kept as
given; no route returns it.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint

from batpass.store import UTCDateTime, metadata

pact_footprints = Table(
    "pact_footprints",
    metadata,
    Column("id", String(36), primary_key=True),  # ProductFootprint.id (a UUID)
    Column("seq", String(36), nullable=False, unique=True),  # uuid7 of the store: the list order
    Column("status", String(16), nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),  # validity period (PACT v3 "validity period")
    Column("valid_to", UTCDateTime, nullable=False),
    Column("document", JSON, nullable=False),  # the PACT v3 ProductFootprint
    # the PACT v2 ProductFootprint when it was given as v2 (the v2.3 API serves it as given;
    # footprint_0003); NULL when it was given as v3
    Column("v2_document", JSON, nullable=True),
    Column("stored_at", UTCDateTime, nullable=False),
)

pact_footprint_keys = Table(
    "pact_footprint_keys",
    metadata,
    Column("footprint_id", String(36), ForeignKey("pact_footprints.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # productId | companyId | classification | geography
    Column("value", String(512), nullable=False),  # lower-cased (filters are case-insensitive)
    UniqueConstraint("footprint_id", "kind", "value", name="uq_pact_footprint_keys"),
)
Index("ix_pact_footprint_keys_lookup", pact_footprint_keys.c.kind, pact_footprint_keys.c.value)

pact_clients = Table(
    "pact_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

pact_tokens = Table(
    "pact_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("client_id", String(64), ForeignKey("pact_clients.client_id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

pact_events = Table(
    "pact_events",
    metadata,
    Column("id", String(36), primary_key=True),  # uuid7 of the store
    Column("event_id", String(256), nullable=False),
    Column("source", Text, nullable=False),
    Column("type", String(96), nullable=False),
    Column("client_id", String(64), nullable=True),
    Column("body", JSON, nullable=False),
    Column("answer_outbox_id", String(36), nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
)

# ---- the requesting side (footprint_0002) -----------------------------------------------------

#: credentials partners gave this node for their PACT APIs. The secret is kept as given (it is the
#: partner's, and this node must present it); no route ever returns it.
pact_peers = Table(
    "pact_peers",
    metadata,
    Column("base_url", String(512), primary_key=True),  # the partner's PACT base URL, normalised
    Column("token_url", Text, nullable=False),  # its OAuth2 token endpoint (<base_url>/auth/token)
    Column("client_id", String(256), nullable=False),
    Column("client_secret", Text, nullable=False),
    Column("name", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: RequestCreatedEvents this node sent, and how each was answered
pact_requests = Table(
    "pact_requests",
    metadata,
    Column("event_id", String(36), primary_key=True),  # the event's id (a uuid7)
    Column("peer_base_url", String(512), nullable=False),
    Column("criteria", JSON, nullable=False),  # the event's data
    Column("status", String(16), nullable=False),  # sending | sent | failed | fulfilled | rejected
    Column("sent_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("answer_event_id", String(256), nullable=True),
    Column("detail", Text, nullable=True),  # why it failed or was rejected
)
Index("ix_pact_requests_peer", pact_requests.c.peer_base_url)
