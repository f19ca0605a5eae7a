"""ledger: the event bodies compressed on PostgreSQL — ``ledger_events.body`` the event's exact
JSON text compressed with a versioned preset dictionary of its own (``batpass.ledger._zprofile``,
event dictionary 1), as ``bytea``

An event row was ~660 bytes, of which the body ~520: PostgreSQL compresses a value only in rows
over ~2 kB (TOAST; ``toast_tuple_target`` below that does not start it), so it stored every body
as it came. Every read gives back the exact text (the hash chain, batch roots and signatures are
over the text and do not change). SQLite keeps the text: nothing is done there. The rows are
copied a page at a time, in (owner_no, seq) order, each body compressed once. The downgrade gives
the text back; a body that does not decompress (a changed row) comes back as the text of its
bytes, so it still fails the chain check.

Revision ID: ledger_0013
Revises: ledger_0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from batpass.ledger._zprofile import EVENT_ZDICTS, pack_event, unpack_or_none
from batpass.store import UTCDateTime

revision = "ledger_0013"
down_revision = "ledger_0012"
branch_labels = None
depends_on = None

_PAGE = 2000
#: the dictionary this revision compresses with (a later default does not change what it writes)
_ZDICT = 1
_COLUMNS = ("owner_no", "seq", "id", "kind", "at", "body", "hash", "batch_no", "catalogue_no")


def _events_table(*, packed: bool) -> None:
    op.create_table(
        "ledger_events",
        sa.Column("owner_no", sa.Integer, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("body", sa.LargeBinary if packed else sa.Text, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.Column("catalogue_no", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("owner_no", "seq", name="pk_ledger_events"),
        sa.UniqueConstraint("owner_no", "id", name="uq_ledger_events_owner"),
    )


def _set_aside() -> None:
    op.rename_table("ledger_events", "ledger_events_old")
    op.drop_constraint("uq_ledger_events_owner", "ledger_events_old", type_="unique")
    op.drop_constraint("pk_ledger_events", "ledger_events_old", type_="primary")


def _packed(body: Any) -> bytes:
    return pack_event(body, _ZDICT)


def _text(body: Any) -> str:
    raw = bytes(body)
    text = unpack_or_none(raw, EVENT_ZDICTS)
    return text if text is not None else raw.decode("utf-8", "replace")


def _copy(convert: Any, *, packed: bool) -> None:
    """Every row of ``ledger_events_old`` into ``ledger_events``, its body converted."""
    bind = op.get_bind()
    target = sa.table(
        "ledger_events",
        *(sa.column(c, sa.LargeBinary if c == "body" and packed else None) for c in _COLUMNS),
    )
    after: tuple[int, int] = (-(2**31), -(2**62))
    while True:
        page = bind.execute(
            sa.text(
                f"SELECT {', '.join(_COLUMNS)} FROM ledger_events_old "
                "WHERE owner_no > :o OR (owner_no = :o AND seq > :s) ORDER BY owner_no, seq LIMIT :k"
            ),
            {"o": after[0], "s": after[1], "k": _PAGE},
        ).all()
        if not page:
            return
        rows = []
        for row in page:
            values = dict(zip(_COLUMNS, row, strict=True))
            values["body"] = convert(values["body"])
            rows.append(values)
        bind.execute(target.insert(), rows)
        after = (page[-1][0], page[-1][1])


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps the text
    _set_aside()
    _events_table(packed=True)
    _copy(_packed, packed=True)
    op.drop_table("ledger_events_old")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside()
    _events_table(packed=False)
    _copy(_text, packed=False)
    op.drop_table("ledger_events_old")
