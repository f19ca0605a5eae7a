"""ledger: the profiles' small forms — ``ledger_profiles.body`` the profile's text compressed
with a versioned preset dictionary (``batpass.ledger._zprofile``, dictionary 1), ``digest`` the
32 bytes of the SHA-256 instead of 64 hex characters

Profiles are the ledger's own derived data (never hashed into the chain or signed): every read
gives back the exact text, so no answer changes. The rows are copied a page at a time, each
compressed once. A stored digest that is not 64 lower-case hex characters (a changed row) is kept
as the bytes of its text, so it still differs from its profile; the downgrade gives that text
back, and a body that does not decompress comes back as the text of its bytes (still a finding).

Revision ID: ledger_0011
Revises: ledger_0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

from batpass.ledger._zprofile import pack, unpack_or_none

revision = "ledger_0011"
down_revision = "ledger_0010"
branch_labels = None
depends_on = None

_PAGE = 2000
_HEX = re.compile(r"[0-9a-f]{64}")
#: the dictionary this revision compresses with (a later default does not change what it writes)
_ZDICT = 1


def _profiles_table(*, slim: bool) -> None:
    op.create_table(
        "ledger_profiles",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("no", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.LargeBinary(32) if slim else sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary if slim else sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("owner", "no", name="pk_ledger_profiles"),
        sa.UniqueConstraint("owner", "digest", name="uq_ledger_profiles_digest"),
    )


def _set_aside() -> None:
    op.rename_table("ledger_profiles", "ledger_profiles_old")
    if op.get_bind().dialect.name == "postgresql":  # constraint (and its index) names are per schema
        op.drop_constraint("uq_ledger_profiles_digest", "ledger_profiles_old", type_="unique")
        op.drop_constraint("pk_ledger_profiles", "ledger_profiles_old", type_="primary")


def _small(digest: str, body: str) -> tuple[bytes, bytes]:
    d = bytes.fromhex(digest) if _HEX.fullmatch(digest) else digest.encode()
    return d, pack(body, _ZDICT)


def _bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)  # SQLite: a changed row may hold text


def _text(digest: Any, body: Any) -> tuple[str, str]:
    d, b = _bytes(digest), _bytes(body)
    text = unpack_or_none(b)
    return (d.hex() if len(d) == 32 else d.decode("utf-8", "replace")), (
        text if text is not None else b.decode("utf-8", "replace")
    )


def _copy(convert: Any, *, binary: bool) -> None:
    """Every row of ``ledger_profiles_old`` into ``ledger_profiles``, converted, by (owner, no)."""
    bind = op.get_bind()
    target = sa.table(
        "ledger_profiles",
        sa.column("owner", sa.String),
        sa.column("no", sa.BigInteger),
        sa.column("digest", sa.LargeBinary if binary else sa.String),
        sa.column("body", sa.LargeBinary if binary else sa.Text),
    )
    after: tuple[str, int] = ("", 0)
    while True:
        page = bind.execute(
            sa.text(
                "SELECT owner, no, digest, body FROM ledger_profiles_old "
                "WHERE owner > :o OR (owner = :o AND no > :n) ORDER BY owner, no LIMIT :k"
            ),
            {"o": after[0], "n": after[1], "k": _PAGE},
        ).all()
        if not page:
            return
        rows = []
        for owner, no, digest, body in page:
            d, b = convert(digest, body)
            rows.append({"owner": owner, "no": no, "digest": d, "body": b})
        bind.execute(target.insert(), rows)
        after = (page[-1][0], page[-1][1])


def upgrade() -> None:
    _set_aside()
    _profiles_table(slim=True)
    _copy(_small, binary=True)
    op.drop_table("ledger_profiles_old")


def downgrade() -> None:
    _set_aside()
    _profiles_table(slim=False)
    _copy(_text, binary=False)
    op.drop_table("ledger_profiles_old")
