"""The ledger's tables on the shared metadata, and the SQL side of its ports.

Every table is keyed by ``owner`` (the DID whose ledger a row belongs to): the Ouranos hub keeps
many operators' ledgers in one database, and every query names the owner. Same SQL on SQLite and
PostgreSQL (SQLAlchemy Core only). The hand-written migration in ``_migrations/`` matches these
definitions exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from batpass.ledger._chain import GENESIS
from batpass.ledger._driver_values import blob_value
from batpass.ledger._zprofile import EventText, ProfileText, pack
from batpass.store import UTCDateTime, metadata

__all__ = [
    "alerts",
    "authorisations",
    "batches",
    "catalogues",
    "claims",
    "credits",
    "edges",
    "events",
    "foreign_lots",
    "heads",
    "lots",
    "owners",
    "profiles",
    "received_summaries",
    "reconciliation",
]

OWNER = 200  # a DID

#: the event log. The owner, the hash and the catalogue are stored in their small forms (migration
#: ``ledger_0010``): the owner as its number (``ledger_owners``), the hash as its 32 bytes, the
#: catalogue as its number (``ledger_catalogues``); every read turns them back into the strings
#: they stand for (the hash chain, the batch roots and every answer are those of the strings).
events = Table(
    "ledger_events",
    metadata,
    Column("owner_no", Integer, nullable=False),  # ``ledger_owners``
    Column("seq", BigInteger, nullable=False),
    Column("id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # the exact JSON text the hash covers; on PostgreSQL stored compressed (``EventText``,
    # ``ledger_0013``), Core reads give the text
    Column("body", EventText, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),  # the SHA-256 digest (hex in every answer)
    Column("batch_no", Integer, nullable=False),
    # the material catalogue the event was checked with, as its number in ``ledger_catalogues``
    # (NULL: recorded before the catalogue was versioned); beside the hashed body, so existing
    # chains stay valid
    Column("catalogue_no", Integer, nullable=True),
    PrimaryKeyConstraint("owner_no", "seq", name="pk_ledger_events"),
    UniqueConstraint("owner_no", "id", name="uq_ledger_events_owner"),
)

#: the material catalogues events were checked with, each a small number (created on first use
#: by :func:`catalogue_numbers`, never renumbered): one digest of 71 characters was stored on
#: every event. Numbers are local to one database, like the owners'.
catalogues = Table(
    "ledger_catalogues",
    metadata,
    Column("no", Integer, nullable=False, autoincrement=True),
    Column("digest", String(80), nullable=False),
    PrimaryKeyConstraint("no", name="pk_ledger_catalogues"),
    UniqueConstraint("digest", name="uq_ledger_catalogues_digest"),
)

heads = Table(
    "ledger_heads",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("batch_no", Integer, nullable=False),
    Column("root", String(64), nullable=False),
    PrimaryKeyConstraint("owner", name="pk_ledger_heads"),
)

batches = Table(
    "ledger_batches",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("batch_no", Integer, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("root", String(64), nullable=False),
    Column("kid", Text, nullable=False),
    Column("jws", Text, nullable=False),
    Column("signed_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "batch_no", name="pk_ledger_batches"),
)

lots = Table(
    "ledger_lots",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("id", String(128), nullable=False),
    Column("material", String(64), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("mass_kg", Float, nullable=False),
    Column("remaining_kg", Float, nullable=False),
    Column("mass_per_piece_kg", Float, nullable=True),
    Column("site", String(128), nullable=False),
    Column("country", String(2), nullable=False),
    Column("custody", String(32), nullable=False),
    Column("recycled", String(16), nullable=True),
    Column("composition", Text, nullable=False),
    Column("produced_at", UTCDateTime, nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=True),
    Column("battery_id", Text, nullable=True),
    Column("battery", Text, nullable=True),
    Column("held", Boolean, nullable=False),
    Column("voided", Boolean, nullable=False),
    # the lot's upstream profile: a number of the owner's ``ledger_profiles`` (a shipment or a
    # receipt of one lot inherits its parent's number)
    Column("profile_no", BigInteger, nullable=False),
    # the lot's number within its owner's lots (``ledger_0012``): what the edges name it by.
    # Given in order as lots are created (:func:`lot_numbers`); a lot another owner's receipt
    # named before this store held it keeps the number that receipt gave it (negative:
    # ``ledger_foreign_lots``)
    Column("lot_no", BigInteger, nullable=False),
    PrimaryKeyConstraint("owner", "id", name="pk_ledger_lots"),
    # on SQLite the rows live in the primary key's B-tree (``ledger_0010``): every read and
    # update of a lot is by (owner, id), and a rowid table kept a second B-tree of those keys
    # (about 70 bytes per event)
    sqlite_with_rowid=False,
)
# partial: only battery lots carry an identifier to resolve (a few per cent of the lots)
Index(
    "ix_ledger_lots_battery",
    lots.c.owner,
    lots.c.battery_id,
    sqlite_where=lots.c.battery_id.is_not(None),
    postgresql_where=lots.c.battery_id.is_not(None),
)
# the edges name lots by number: every read of an edge finds its lots through this index
Index("ix_ledger_lots_no", lots.c.owner, lots.c.lot_no, unique=True)

#: the owners' precomputed upstream profiles, stored once each (content-addressed: ``digest`` is
#: the 32 bytes of the SHA-256 of the profile's exact JSON text; ``body`` is that text compressed
#: with a versioned preset dictionary, ``_zprofile``, migration ``ledger_0011``: Core reads give
#: the text back); lots refer to them by ``no``. Per
#: owner, like every ledger table: numbering is serialised by the owner's chain-head lock, the
#: self-audit and partitioning by owner cover the table as they cover lots, and an owner's
#: ledger can be copied or dropped without looking at another's. Profiles are the ledger's own
#: derived data, never hashed into the chain or signed.
profiles = Table(
    "ledger_profiles",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("no", BigInteger, nullable=False),
    Column("digest", LargeBinary(32), nullable=False),
    Column("body", ProfileText, nullable=False),
    PrimaryKeyConstraint("owner", "no", name="pk_ledger_profiles"),
    UniqueConstraint("owner", "digest", name="uq_ledger_profiles_digest"),
)

#: the owners the ledger's edges name, each a small number: created on first use
#: (:func:`owner_numbers`), never renumbered. An edge names two owners; as DID strings (about 30
#: bytes) they were stored four times per edge (row and parent index): 9 % of the store.
#: Numbers are local to one database: whatever compares two stores (the self-audit's replay,
#: a migration) compares the owners' strings.
owners = Table(
    "ledger_owners",
    metadata,
    Column("no", Integer, nullable=False, autoincrement=True),
    Column("owner", String(OWNER), nullable=False),
    # the last lot number given to the owner's lots, and the last (negative) number given to a
    # lot of the owner that another owner's receipt named while this store did not hold it
    # (``ledger_foreign_lots``); both are raised by ``UPDATE`` under the writer's locks, in
    # owner number order (:func:`lot_numbers`)
    Column("last_lot_no", BigInteger, nullable=False, server_default="0"),
    Column("last_foreign_no", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("no", name="pk_ledger_owners"),
    UniqueConstraint("owner", name="uq_ledger_owners_owner"),
)

#: lots another owner's receipt named that this store did not hold when it was recorded (a
#: supplier's dispatched lot, received by reference): their numbers for the edges, negative so
#: that they never meet a number of ``ledger_lots.lot_no`` given in order. If the store later
#: holds that lot (a supplier's ledger recorded here after its customer's), the lot takes this
#: number as its ``lot_no``, so an edge's parent is found the same way either way.
foreign_lots = Table(
    "ledger_foreign_lots",
    metadata,
    Column("owner_no", Integer, nullable=False),  # the lot's owner (``ledger_owners``)
    Column("no", BigInteger, nullable=False),
    Column("id", String(128), nullable=False),
    PrimaryKeyConstraint("owner_no", "no", name="pk_ledger_foreign_lots"),
    UniqueConstraint("owner_no", "id", name="uq_ledger_foreign_lots_id"),
)

#: the lot graph, on numbers (``ledger_0012``): each lot as its owner's number and its
#: ``lot_no`` (or a ``ledger_foreign_lots`` number), the event as its seq in the child owner's
#: chain (the event that produced the child lot). The strings were 36-character ids stored
#: twice (row and parent index): 291 bytes an event on SQLite. Every read turns the numbers
#: back into strings (:data:`EDGES_FROM`).
edges = Table(
    "ledger_edges",
    metadata,
    Column("owner_no", Integer, nullable=False),  # the child's owner (``ledger_owners``)
    Column("child_no", BigInteger, nullable=False),
    Column("parent_owner_no", Integer, nullable=False),
    Column("parent_no", BigInteger, nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("input_kg", Float, nullable=False),
    PrimaryKeyConstraint("owner_no", "child_no", "parent_owner_no", "parent_no", "event_seq", name="pk_ledger_edges"),
    # on SQLite the rows live in the primary key's B-tree (no rowid table beside an index of
    # every column): upstream walks read it by (owner, child); the edges of an event are found
    # through the event's output lots (:func:`event_edges`), so no (owner, event) index
    sqlite_with_rowid=False,
)
Index("ix_ledger_edges_parent", edges.c.parent_owner_no, edges.c.parent_no)

#: the owners of an edge's child and parent as strings, its lots as ids: join
#: :data:`EDGES_FROM` and select :data:`edge_owner`, :data:`edge_child`,
#: :data:`edge_parent_owner`, :data:`edge_parent`, :data:`edge_event` (filter with
#: :func:`owner_no_of` instead: a condition on the number reaches the edges' own indexes
#: whatever the planner picks)
_child_owners = owners.alias("edge_owner")
_parent_owners = owners.alias("edge_parent_owner")
_child_lots = lots.alias("edge_child")
_parent_lots = lots.alias("edge_parent")
_parent_foreign = foreign_lots.alias("edge_parent_foreign")
edge_owner: Column[str] = _child_owners.c.owner
edge_parent_owner: Column[str] = _parent_owners.c.owner
edge_child: Column[str] = _child_lots.c.id
#: the child lot's owner column (a condition on it beside :data:`edge_child` reaches the lots' key)
edge_child_owner: Column[str] = _child_lots.c.owner
#: the child lot's event is the edge's (a lot is produced by one event, whose seq is the lot's)
edge_event: Column[str] = _child_lots.c.event_id
edge_parent: Any = func.coalesce(_parent_lots.c.id, _parent_foreign.c.id)
#: the parent's id where the store holds the parent lot (NULL for a lot received by reference)
edge_parent_held: Column[str] = _parent_lots.c.id


def _owners_of(from_: Any, by_parent: bool = False) -> Any:
    child_no = edges.c.owner_no + literal_column("0") if by_parent else edges.c.owner_no
    return from_.join(_child_owners, _child_owners.c.no == child_no).join(
        _parent_owners, _parent_owners.c.no == edges.c.parent_owner_no
    )


def parent_lot_of(from_: Any, lot: Any) -> Any:
    """``from_`` (holding the edges and their owners) outer-joined with the edge's parent as
    ``lot`` (an alias of ``ledger_lots``, or the table) and as a foreign lot: the parent's id is
    :func:`parent_id` of ``lot``."""
    return from_.outerjoin(lot, and_(lot.c.owner == edge_parent_owner, lot.c.lot_no == edges.c.parent_no)).outerjoin(
        _parent_foreign,
        and_(
            edges.c.parent_no < 0,
            _parent_foreign.c.owner_no == edges.c.parent_owner_no,
            _parent_foreign.c.no == edges.c.parent_no,
        ),
    )


def parent_id(lot: Any) -> Any:
    """The id of an edge's parent joined as ``lot`` by :func:`parent_lot_of`."""
    return func.coalesce(lot.c.id, _parent_foreign.c.id)


def child_lot_of(from_: Any, lot: Any) -> Any:
    """``from_`` joined with the edge's child as ``lot`` (an alias of ``ledger_lots``, or the
    table): the child's id is ``lot.c.id``, the edge's event ``lot.c.event_id``."""
    return from_.join(lot, and_(lot.c.owner == edge_owner, lot.c.lot_no == edges.c.child_no))


#: the edges with their owners, child and parent as strings (:data:`edge_owner` … :data:`edge_parent`)
EDGES_FROM = parent_lot_of(child_lot_of(_owners_of(edges), _child_lots), _parent_lots)
#: the owners of an edge only, for a query that joins its lots itself; ``BY_PARENT``: the child's
#: owner joined on ``owner_no + 0``, for a query that must go through the parent index (a
#: downstream hop). Joined on the bare number, PostgreSQL — once it knows the table sizes
#: (``VACUUM``) but has no column statistics — drove from the owners into the primary key
#: (owner_no, child, …) and filtered every edge of the partition per hop (459,000 rows at 10⁶
#: lots); the expression joins the same rows and no planner can take an index for it
EDGE_OWNERS_FROM = _owners_of(edges)
EDGE_OWNERS_FROM_BY_PARENT = _owners_of(edges, by_parent=True)


def lot_nos_of(owner: Any, ids: Any) -> Any:
    """The numbers of ``owner``'s lots ``ids`` (a list or an expanding bind parameter), as a
    subquery for ``IN``: a lot this store holds."""
    return select(lots.c.lot_no).where(lots.c.owner == owner, lots.c.id.in_(ids))


class NumberIn(ColumnElement[bool]):
    """``column IN (numbers)`` for a subquery of numbers, computed first whatever the planner
    estimates: on PostgreSQL ``column = ANY(ARRAY(subquery))`` (the array is an init plan, and
    the column's index is searched with it). Written as ``IN (subquery)``, PostgreSQL with
    statistics turned it into a semi-join driven from the edges (every edge of the partition
    read per hop); SQLite evaluates ``IN (subquery)`` first and searches the index with it."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's own attribute, a list by its type)
        ("column", InternalTraversal.dp_clauseelement),
        ("numbers", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], numbers: Select[Any]) -> None:
        self.column = column
        self.numbers = numbers

    def self_group(self, against: Any = None) -> Any:
        # a condition as it is (not compared with 1, as a boolean column is where booleans are
        # stored as integers)
        return self


@compiles(NumberIn)
def _number_in(element: NumberIn, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} IN ({compiler.process(element.numbers, **kw)})"


@compiles(NumberIn, "postgresql")
def _number_in_pg(element: NumberIn, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY(ARRAY({compiler.process(element.numbers, **kw)}))"


def parent_no_of(owner: str, lot: str) -> Any:
    """The number the edges give ``owner``'s lot ``lot`` (its ``lot_no``, or its foreign number),
    as a scalar subquery (NULL: no edge names it)."""
    held = select(lots.c.lot_no).where(lots.c.owner == owner, lots.c.id == lot).scalar_subquery()
    foreign = (
        select(foreign_lots.c.no)
        .where(foreign_lots.c.owner_no == owner_no_of(owner), foreign_lots.c.id == lot)
        .scalar_subquery()
    )
    return func.coalesce(held, foreign)


def owner_no_of(owner: str | BindParameter[str]) -> Any:
    """The number of ``owner`` as a scalar subquery (NULL, so matching nothing, for an owner no
    edge names yet): ``edges.c.owner_no == owner_no_of(owner)``; ``owner`` may be a bind
    parameter, for a statement built once and run with each owner."""
    return select(owners.c.no).where(owners.c.owner == owner).scalar_subquery()


def events_of(owner: str) -> ColumnElement[bool]:
    """The condition selecting ``owner``'s events (by its number; none for an owner never named)."""
    cond: ColumnElement[bool] = events.c.owner_no == owner_no_of(owner)
    return cond


#: the events with their catalogue's digest: join :data:`EVENTS_FROM`, select :data:`event_catalogue`
EVENTS_FROM = events.outerjoin(catalogues, catalogues.c.no == events.c.catalogue_no)
event_catalogue: Column[str] = catalogues.c.digest


def hash_hex(value: Any) -> Any:
    """A stored event hash as the hex text the chain, the batch roots and every answer use (the
    column holds the 32 bytes); a value of another type, which no write stores, as it is."""
    return value.hex() if isinstance(value, bytes | memoryview) else value


def owner_nos_of(names: Iterable[str]) -> Any:
    """The numbers of ``names``, as a subquery for ``IN``."""
    return select(owners.c.no).where(owners.c.owner.in_(sorted(set(names))))


received_summaries = Table(
    "ledger_received_summaries",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("lot", String(128), nullable=False),
    Column("issuer", String(OWNER), nullable=False),
    Column("jws", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "lot", name="pk_ledger_received_summaries"),
)

authorisations = Table(
    "ledger_authorisations",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("id", String(128), nullable=False),
    Column("holder", String(OWNER), nullable=False),
    Column("material", String(64), nullable=False),
    Column("destinations", Text, nullable=False),
    Column("cap_kg", Float, nullable=False),
    Column("used_kg", Float, nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_to", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # self_declared (the shipper's own record) or credential (an authority's
    # ExportAuthorisationCredential, verified when it was held): docs/outflows.md
    Column("kind", String(16), nullable=False, server_default="self_declared"),
    Column("materials", Text, nullable=True),  # JSON list; NULL: just ``material``
    Column("waste_classes", Text, nullable=True),  # JSON list; NULL: any
    Column("issuer", String(OWNER), nullable=True),
    Column("credential_id", String(OWNER), nullable=True),
    Column("credential", Text, nullable=True),
    # a credential found revoked, expired or untrusted when re-checked: from when, and why (JSON)
    Column("withdrawn_at", UTCDateTime, nullable=True),
    Column("withdrawn", Text, nullable=True),
    PrimaryKeyConstraint("owner", "id", name="pk_ledger_authorisations"),
)

alerts = Table(
    "ledger_alerts",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("id", String(36), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "id", name="pk_ledger_alerts"),
)

#: shipments reconciled across nodes (ledger._reconcile, docs/outflows.md "Reconciliation"): one
#: row per shipment and side — the shipper's, the receiver's, an authority's per reporting side
reconciliation = Table(
    "ledger_reconciliation",
    metadata,
    Column("owner", String(OWNER), nullable=False),  # whose view: shipper, receiver or authority
    Column("role", String(16), nullable=False),  # shipper | receiver | authority
    Column("shipper", String(OWNER), nullable=False),
    Column("shipment", String(128), nullable=False),  # the shipper's shipment event id
    Column("reported_by", String(OWNER), nullable=False),  # the side that told (owner on its own rows)
    Column("lot", String(128), nullable=False),  # the shipper's dispatched lot (the receipt names it)
    Column("to_owner", String(OWNER), nullable=False),
    Column("to_site", String(128), nullable=False),
    Column("document", Text, nullable=False),
    Column("shipped_at", UTCDateTime, nullable=False),
    Column("shipped_kg", Float, nullable=True),  # the shipper's quantity (never sent back by a receiver)
    Column("window_days", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # pending | ok | short | diverted | missing
    Column("judged_at", UTCDateTime, nullable=True),  # the ledger time the outcome was judged at
    Column("alert_id", String(36), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "role", "shipper", "shipment", "reported_by", name="pk_ledger_reconciliation"),
)

credits = Table(
    "ledger_credits",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("lot", String(128), nullable=False),
    Column("element", String(8), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("credited_kg", Float, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "lot", "element", name="pk_ledger_credits"),
)

claims = Table(
    "ledger_claims",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("id", String(128), nullable=False),
    Column("lot", String(128), nullable=False),
    Column("element", String(8), nullable=False),
    Column("kg", Float, nullable=False),
    Column("claimant", String(OWNER), nullable=False),
    Column("subject", Text, nullable=False),
    Column("custody", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "id", name="pk_ledger_claims"),
)
Index("ix_ledger_claims_lot", claims.c.owner, claims.c.lot, claims.c.element)

verified_keys = Table(
    "ledger_verified_keys",
    metadata,
    Column("kid", String(512), nullable=False),
    # SHA-256 (hex) of the sealed canonical JWK: each key a kid named keeps its row; '' for a row
    # kept before ledger_0009 (its digest is set when its kid next arrives: _received_writes)
    Column("key_sha256", String(64), nullable=False),
    Column("sealed_jwk", Text, nullable=False),  # SecretBox-sealed, bound to the kid
    Column("verified_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("kid", "key_sha256", name="pk_ledger_verified_keys"),
)


def key_sha256(canonical_jwk: str) -> str:
    """``ledger_verified_keys.key_sha256`` of a key: SHA-256 (hex) of its canonical JWK text (the
    text that is sealed), so a row's opened key can be checked against the digest it is kept by."""
    return hashlib.sha256(canonical_jwk.encode("utf-8")).hexdigest()


LOT_COLUMNS = (
    lots.c.owner,
    lots.c.id,
    lots.c.material,
    lots.c.unit,
    lots.c.quantity,
    lots.c.mass_kg,
    lots.c.remaining_kg,
    lots.c.mass_per_piece_kg,
    lots.c.site,
    lots.c.country,
    lots.c.custody,
    lots.c.recycled,
    lots.c.composition,
    lots.c.produced_at,
    lots.c.event_id,
    lots.c.kind,
    lots.c.status,
    lots.c.battery,
    lots.c.held,
    lots.c.voided,
    profiles.c.body.label("profile"),
    lots.c.seq,
    lots.c.profile_no,
    lots.c.lot_no,
)

#: the lots joined with their profiles (the FROM of a select of :data:`LOT_COLUMNS`)
LOTS_FROM = lots.join(profiles, and_(profiles.c.owner == lots.c.owner, profiles.c.no == lots.c.profile_no))


def with_profiles(from_: Any) -> Any:
    """``from_`` (a join that holds ``ledger_lots``) outer-joined with the lots' profiles."""
    return from_.outerjoin(profiles, and_(profiles.c.owner == lots.c.owner, profiles.c.no == lots.c.profile_no))


_CHUNK = 400


def partition_term(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A partition's owner number written ``owner_no + 0`` for a query that must go through
    another index: given ``owner = ?`` beside ``parent_owner = ? AND parent = ?``, SQLite without
    statistics answered through an index led by ``owner`` (the primary key) and read every edge
    of the partition (O(ledger) per call: 310 ms a hop at 10⁶ lots). The expression still
    filters the same rows; no planner can take an index for it."""
    return column + literal_column("0")


def receipts_query(owner: str, supplier: str, supplier_lot: str) -> Select[Any]:
    """``owner``'s lots received as ``supplier``'s lot ``supplier_lot`` (through the parent
    index, whatever the size of the partition)."""
    return (
        select(edge_child)
        .select_from(child_lot_of(EDGE_OWNERS_FROM_BY_PARENT, _child_lots))
        .where(
            partition_term(edges.c.owner_no) == owner_no_of(owner),
            edges.c.parent_owner_no == owner_no_of(supplier),
            edges.c.parent_no == parent_no_of(supplier, supplier_lot),
        )
        .order_by(edge_child)
    )


def shipment_receipts_query(shipper: str, shipment_lot: str) -> Select[Any]:
    """The receipts other owners recorded of ``shipper``'s lot ``shipment_lot`` (the
    reconciliation's look-up): each receipt's owner, site, mass and date, voided ones left out.
    Through the parent index (:data:`EDGE_OWNERS_FROM_BY_PARENT`): joined on the bare number,
    PostgreSQL after ``VACUUM`` drove from the owners into the primary key (owner_no, child, …)
    with only the owner number as its prefix, reading every edge of each other owner's partition."""
    return (
        select(edge_owner, lots.c.site, lots.c.mass_kg, lots.c.produced_at)
        .select_from(child_lot_of(EDGE_OWNERS_FROM_BY_PARENT, lots))
        .where(
            edges.c.parent_owner_no == owner_no_of(shipper),
            edges.c.parent_no == parent_no_of(shipper, shipment_lot),
        )
        .where(edge_owner != shipper, lots.c.kind == "receipt", lots.c.voided.is_(False))
    )


def chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


#: a lot row as :func:`select_lots` returns it on SQLite (attribute access, like a ``Row``)
LotRow = namedtuple("LotRow", [c.name for c in LOT_COLUMNS])  # type: ignore[misc]


def select_lots(conn: Connection, owner: str, ids: Sequence[str]) -> list[Any]:
    """The lots of ``owner`` with these ids (those that exist), as rows of :data:`LOT_COLUMNS`.

    On SQLite the statement goes to the driver directly and only the timestamp and flags get
    their types' result processing: bulk ingest looks up every lot an ingest call names (the
    new ones too, to refuse reused ids), and SQLAlchemy's handling of 400 bound values per
    statement and of each result row cost several times the look-ups themselves."""
    if conn.dialect.name != "sqlite":
        rows: list[Any] = []
        for cond in ids_in(conn, lots.c.id, ids):
            rows.extend(
                conn.execute(select(*LOT_COLUMNS).select_from(LOTS_FROM).where(lots.c.owner == owner, cond)).all()
            )
        return rows
    procs = result_processors(conn)
    out: list[Any] = []
    for part in _sqlite_id_rows(conn, _LOTS_BY_ID, owner, ids):
        for tup in part:
            values = list(tup)
            for i, proc in procs:
                values[i] = proc(values[i])
            out.append(LotRow(*values))
    return out


def lock_head(conn: Connection, owner: str) -> Any:
    """The owner's chain head, locked for this transaction (``FOR UPDATE`` on PostgreSQL; SQLite's
    write transactions already hold the database lock). A first event's head is created as the
    genesis head (seq 0) in the same statement family, so two first writers also serialise; a
    rolled-back transaction leaves no head behind."""
    genesis = {"owner": owner, "seq": 0, "hash": GENESIS, "batch_no": 0, "root": GENESIS}
    if conn.dialect.name == "postgresql":
        conn.execute(pg_insert(heads).values(**genesis).on_conflict_do_nothing(index_elements=["owner"]))
    else:
        conn.execute(sqlite_insert(heads).values(**genesis).on_conflict_do_nothing(index_elements=["owner"]))
    return conn.execute(select(heads).where(heads.c.owner == owner).with_for_update()).one()


def select_event_bodies(conn: Connection, owner: str, ids: Sequence[str]) -> dict[str, str]:
    """``{event id: stored body}`` of the events of ``owner`` among ``ids``."""
    out: dict[str, str] = {}
    if conn.dialect.name != "sqlite":
        for cond in ids_in(conn, events.c.id, ids):
            out.update(conn.execute(select(events.c.id, events.c.body).where(events_of(owner), cond)).all())
        return out
    for part in _sqlite_id_rows(conn, _EVENT_BODIES_BY_ID, owner, ids):
        out.update(part)
    return out


_LOTS_BY_ID = (
    f"SELECT {', '.join(('p.body' if c.name == 'profile' else f'l.{c.name}') for c in LOT_COLUMNS)} "
    "FROM ledger_lots l JOIN ledger_profiles p ON p.owner = l.owner AND p.no = l.profile_no "
    "WHERE l.owner = ? AND l.id IN ({marks})"
)
_EVENT_BODIES_BY_ID = (
    "SELECT id, body FROM ledger_events "
    "WHERE owner_no = (SELECT no FROM ledger_owners WHERE owner = ?) AND id IN ({marks})"
)


def _sqlite_id_rows(conn: Connection, sql: str, owner: str, ids: Sequence[str]) -> Iterable[Sequence[Any]]:
    """Rows of ``sql`` (``owner = ? AND id IN ({marks})``) for ``ids``, 400 ids a statement."""
    # as exact str: the driver sends any other type (a LotId too) through its adapter protocol
    # (see ``_driver_values.null_value``)
    for part in chunks(list(map(str, ids))):
        text_ = sql.replace("{marks}", ",".join("?" * len(part)))
        yield conn.exec_driver_sql(text_, (owner, *part)).fetchall()


_RESULT_PROCS: dict[str, list[tuple[int, Callable[[Any], Any]]]] = {}


def result_processors(conn: Connection) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, processor) of the lot columns whose type converts driver values (timestamps)."""
    dialect = conn.dialect
    procs = _RESULT_PROCS.get(dialect.name)
    if procs is None:
        procs = []
        for i, col in enumerate(LOT_COLUMNS):
            proc = col.type.dialect_impl(dialect).result_processor(dialect, None)
            if proc is not None:
                procs.append((i, proc))
        _RESULT_PROCS[dialect.name] = procs
    return procs


def select_lots_keyed(conn: Connection, keys: Sequence[tuple[str, str]]) -> list[Any]:
    rows: list[Any] = []
    for part in chunks(list(keys)):
        rows.extend(
            conn.execute(
                select(*LOT_COLUMNS).select_from(LOTS_FROM).where(tuple_(lots.c.owner, lots.c.id).in_(part))
            ).all()
        )
    return rows


# --------------------------------------------------------------------------------------------
# bulk writes: the record path writes thousands of rows per call; SQLAlchemy's per-row parameter
# processing (construct_params) and psycopg's one-statement-per-row executemany dominated it, and
# on PostgreSQL so did psycopg parsing statements with thousands of placeholders (it caches only
# short statements). Statements are built once per table and dialect, rows go as tuples, the
# column types' own bind processors run only where a column has one (timestamps, booleans). The
# record path builds the tuples of its big tables itself (:func:`insert_values`), with each
# timestamp's driver value computed once per event rather than once per row and column.
# SQLite: ``executemany`` of a plain INSERT/UPDATE (a C loop inside the transaction).
# PostgreSQL: ``COPY … FROM STDIN`` for inserts, one ``UPDATE … FROM unnest(arrays)`` for updates
# and ``= ANY(array)`` for id look-ups: one parameter per column, whatever the row count.
# --------------------------------------------------------------------------------------------


class _Plan:
    """Column order, getters and bind processors of one table on one dialect."""

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = conn.dialect
        prep = dialect.identifier_preparer
        self.columns = list(columns)
        self.table_sql = prep.format_table(table)
        self.cols_sql = [prep.quote(c) for c in self.columns]
        self.getter = itemgetter(*self.columns)
        self.procs: list[tuple[int, Callable[[Any], Any]]] = []
        for i, name in enumerate(self.columns):
            proc = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                self.procs.append((i, proc))
        self.sqlite = dialect.name == "sqlite"

    def tuples(self, rows: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        g = self.getter
        out = [g(r) for r in rows] if len(self.columns) > 1 else [(g(r),) for r in rows]
        if self.procs:
            procs = self.procs
            for k, tup in enumerate(out):
                lst = list(tup)
                for i, proc in procs:
                    lst[i] = proc(lst[i])
                out[k] = tuple(lst)
        return out


_PLANS: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}


def _plan(conn: Connection, table: Table, columns: Sequence[str] | None = None) -> _Plan:
    cols = tuple(columns if columns is not None else [c.name for c in table.columns])
    key = (conn.dialect.name, table.name, cols)
    p = _PLANS.get(key)
    if p is None:
        p = _PLANS[key] = _Plan(conn, table, cols)
    return p


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (dicts keyed by column name, every column present) in bulk, inside the
    connection's transaction."""
    if rows:
        insert_values(conn, table, _plan(conn, table).tuples(rows))


def insert_values(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT ``rows``, tuples in the table's column order holding the driver's values (see
    ``_driver_values.bind_processor``), in bulk inside the connection's transaction."""
    if not rows:
        return
    plan = _plan(conn, table)
    cols = ", ".join(plan.cols_sql)
    if plan.sqlite:
        marks = ",".join(["?"] * len(plan.columns))
        conn.exec_driver_sql(f"INSERT INTO {plan.table_sql} ({cols}) VALUES ({marks})", rows)
        return
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    statement, driver_error = f"COPY {plan.table_sql} ({cols}) FROM STDIN", conn.dialect.loaded_dbapi.Error
    try:
        with cur.copy(statement) as copy:
            for tup in rows:
                copy.write_row(tup)
    except driver_error as exc:  # as SQLAlchemy raises a statement's: the unit of work's 409, not a bare error
        raise DBAPIError.instance(statement, None, exc, driver_error) from exc
    finally:
        cur.close()


def update_lot_states(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Set ``remaining_kg``, ``status`` and ``voided`` of existing lots, keyed by (owner, id).
    ``rows``: dicts with those five columns."""
    if not rows:
        return
    cols = ("owner", "id", "remaining_kg", "status", "voided")
    plan = _plan(conn, lots, cols)
    tuples = plan.tuples(rows)
    q = plan.cols_sql
    tbl = plan.table_sql
    if plan.sqlite:
        conn.exec_driver_sql(
            f"UPDATE {tbl} SET {q[2]} = ?, {q[3]} = ?, {q[4]} = ? WHERE {q[0]} = ? AND {q[1]} = ?",
            [(r[2], r[3], r[4], r[0], r[1]) for r in tuples],
        )
        return
    columns = [list(c) for c in zip(*tuples, strict=True)]
    conn.exec_driver_sql(
        f"UPDATE {tbl} SET {q[2]} = v.r, {q[3]} = v.s, {q[4]} = v.vd "
        "FROM unnest(%s::text[], %s::text[], %s::double precision[], %s::text[], %s::boolean[]) "
        f"AS v(o, i, r, s, vd) WHERE {tbl}.{q[0]} = v.o AND {tbl}.{q[1]} = v.i",
        tuple(columns),
    )


def ids_in(conn: Connection, column: ColumnElement[Any], ids: Sequence[str]) -> Iterable[ColumnElement[bool]]:
    """``column IN ids`` as conditions for successive queries: chunks of 400 bound values on
    SQLite; on PostgreSQL ``column = ANY(:array)``, one array parameter per 20,000 ids (a
    statement with thousands of placeholders costs more to prepare than to run)."""
    if conn.dialect.name == "postgresql":
        for part in chunks(list(ids), 20_000):
            yield column == any_(bindparam(None, list(part), type_=ARRAY(String)))
        return
    for part in chunks(list(ids)):
        yield column.in_(part)


# --------------------------------------------------------------------------------------------
# profiles (content-addressed, per owner) and the edges of events
# --------------------------------------------------------------------------------------------


def profile_digest(body: str) -> bytes:
    """The address of a profile's text: its SHA-256 (the 32 bytes)."""
    return hashlib.sha256(body.encode()).digest()


_PG_PROFILE_NUMBERS = (
    "SELECT d.digest, (SELECT p.no FROM ledger_profiles p WHERE p.owner = %(owner)s AND p.digest = d.digest)"
    " FROM unnest(%(digests)s::bytea[]) AS d(digest)"
)


def intern_profiles(conn: Connection, owner: str, bodies: Iterable[str]) -> dict[str, int]:
    """``{text: number}`` of each profile text in ``owner``'s ``ledger_profiles``, storing those
    not yet there under the next numbers (in the order given). The caller holds the owner's
    chain-head lock (:func:`lock_head`), which serialises numbering. Only the new texts are
    compressed (``_zprofile.pack``)."""
    by_digest: dict[bytes, str] = {}
    for body in bodies:
        by_digest.setdefault(profile_digest(body), body)
    if not by_digest:
        return {}
    known: dict[bytes, int] = {}
    digests = list(by_digest)
    blob = blob_value(conn)  # the digests and bodies as the driver takes them at once
    if conn.dialect.name == "sqlite":
        for part in chunks(digests):
            q = f"SELECT digest, no FROM ledger_profiles WHERE owner = ? AND digest IN ({','.join('?' * len(part))})"
            known.update(conn.exec_driver_sql(q, (owner, *map(blob, part))).fetchall())
    else:
        # one probe of (owner, digest) per digest, which no statistics can turn into a scan: asked
        # as "owner = ? AND digest IN (...)", PostgreSQL with statistics older than the owner's
        # growth (a bulk ingest autovacuum had not analysed yet) read every profile of the owner
        # and searched the list for each (1.27 s a statement at 130,000 profiles)
        for part in chunks(digests, 1000):
            known.update(
                (bytes(d), no)
                for d, no in conn.exec_driver_sql(_PG_PROFILE_NUMBERS, {"owner": owner, "digests": list(part)})
                if no is not None
            )
    new = [d for d in digests if d not in known]
    if new:
        top = conn.execute(select(func.max(profiles.c.no)).where(profiles.c.owner == owner)).scalar()
        start = (top or 0) + 1
        rows = [(owner, start + k, blob(d), blob(pack(by_digest[d]))) for k, d in enumerate(new)]
        insert_values(conn, profiles, rows)
        known.update((d, start + k) for k, d in enumerate(new))
    return {body: known[d] for d, body in by_digest.items()}


def set_lot_profiles(conn: Connection, owner: str, bodies: Mapping[str, str]) -> None:
    """Give the lots of ``owner`` in ``bodies`` (lot id → profile text) these profiles (under the
    owner's chain-head lock, taken here if the transaction does not hold it yet)."""
    if not bodies:
        return
    lock_head(conn, owner)
    numbers = intern_profiles(conn, owner, bodies.values())
    conn.execute(
        update(lots)
        .where(lots.c.owner == bindparam("k_owner"), lots.c.id == bindparam("k_id"))
        .values(profile_no=bindparam("k_no")),
        [{"k_owner": owner, "k_id": lot, "k_no": numbers[body]} for lot, body in bodies.items()],
    )


def owner_numbers(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """``{owner: number}`` of ``names`` in ``ledger_owners``, numbering those not there yet
    (``INSERT … ON CONFLICT DO NOTHING``: two writers naming a new owner at once get one number;
    on PostgreSQL the second waits for the first to commit)."""
    return _numbers(conn, owners, "owner", names)


def catalogue_numbers(conn: Connection, digests: Iterable[str]) -> dict[str, int]:
    """``{digest: number}`` of material catalogue ``digests`` in ``ledger_catalogues``, numbering
    those not there yet (as :func:`owner_numbers` does)."""
    return _numbers(conn, catalogues, "digest", digests)


def _numbers(conn: Connection, table: Table, column: str, names: Iterable[str]) -> dict[str, int]:
    """``{name: number}`` of ``names`` in ``table`` (``no``, ``column``), numbering new ones."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    col, no = table.c[column], table.c.no
    known: dict[str, int] = dict(conn.execute(select(col, no).where(col.in_(wanted))).all())
    new = [o for o in wanted if o not in known]
    if new:
        values = [{column: o} for o in new]
        if conn.dialect.name == "postgresql":
            conn.execute(pg_insert(table).values(values).on_conflict_do_nothing(index_elements=[column]))
        else:
            conn.execute(sqlite_insert(table).values(values).on_conflict_do_nothing(index_elements=[column]))
        known.update(conn.execute(select(col, no).where(col.in_(new))).all())
    return known


def event_edges(conn: Connection, owner: str, event_ids: Iterable[str]) -> list[tuple[str, str, str, float]]:
    """(child, parent, event id, input kg) of the edges of ``owner``'s events ``event_ids``.

    An edge's child is a lot its event produced, one of the event's outputs: the stored bodies
    name them, and the edges are read by (owner, child) through the primary key, so the edges
    need no index by event."""
    wanted = set(event_ids)
    children: set[str] = set()
    for body in select_event_bodies(conn, owner, sorted(wanted)).values():
        children.update(o["lot"] for o in json.loads(body).get("outputs") or ())
    out: list[tuple[str, str, str, float]] = []
    for part in chunks(sorted(children)):
        q = (
            select(edge_child, edge_parent, edge_event, edges.c.input_kg)
            .select_from(EDGES_FROM)
            .where(edges.c.owner_no == owner_no_of(owner), NumberIn(edges.c.child_no, lot_nos_of(owner, part)))
        )
        out.extend((c, p, e, kg) for c, p, e, kg in conn.execute(q).all() if e in wanted)
    return out
