"""A hub user's scope: on an Ouranos hub a console user added with ``--operator`` acts for one
hosted operator and sees only that operator's data — its passports, its ledger's lots and alerts,
its footprints, its releases and the credentials held for it (docs/console.md). A page about
another operator's item answers as if the item did not exist (404), so the scope leaks nothing.
"""

from __future__ import annotations

import uuid

from batpass.core.errors import NotFound
from batpass.http import NodeContext
from batpass.passport import Passport, PassportFilter, PassportService, find_passport_ids
from batpass.web._i18n import N_, gettext_for
from batpass.web.console._session import SignedIn, refuse

__all__ = ["in_scope", "scope_of", "scoped_choices", "scoped_passport"]


def scope_of(who: SignedIn) -> str:
    """The DID of the operator the user acts for; ``""`` for the node's own people (everything)."""
    return who.session.user.operator or ""


def in_scope(who: SignedIn, operator: str | None) -> bool:
    """Whether an item of ``operator`` (a DID) is the user's to see."""
    scope = scope_of(who)
    return not scope or operator == scope


def scoped_choices(who: SignedIn, ctx: NodeContext, *, limit: int = 200) -> list[tuple[str, str]]:
    """The passports the user may pick on a view (id, "GTIN / serial — model"), newest change
    first, at most ``limit``."""
    svc = ctx.services.get(PassportService)
    if svc is None:
        return []
    ids, _total = find_passport_ids(ctx.engine, PassportFilter(operator=scope_of(who)), limit=limit)
    out = []
    for pid in ids:
        p = svc.get(pid)
        out.append((str(pid), f"{p.battery_id.gtin} / {p.battery_id.serial} — {p.model_id}"))
    return out


def scoped_passport(who: SignedIn, ctx: NodeContext, passport_id: str) -> tuple[PassportService, Passport]:
    """The passport ``passport_id`` if this node holds it and it is in the user's scope, else the
    404 page (``ConsoleRefusal``): another operator's passport reads as one that is not here."""
    _ = gettext_for()
    svc = ctx.services.get(PassportService)
    try:
        if svc is None:
            raise NotFound("passports are off on this node")
        p = svc.get(uuid.UUID(passport_id))
        if not in_scope(who, p.operator):
            raise NotFound("outside the user's operator scope")
        return svc, p
    except (ValueError, NotFound):
        raise refuse(
            404, N_("Passport not found"), _("No passport with this identifier is held on this node."), who
        ) from None
