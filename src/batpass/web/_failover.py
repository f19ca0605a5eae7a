"""The messages of the resolver role's problem page (``batpass.federation._resolver``: neither the
operator's node nor its backup node served the passport) and of a backup node's refused copy,
marked here so that the catalogue holds them; the page itself is the resolver's message page
(:class:`PassportPages`)."""

from __future__ import annotations

from batpass.web._i18n import N_

__all__ = ["FAILOVER_MESSAGES"]

FAILOVER_MESSAGES = (
    N_("Passport not available right now"),
    N_(
        "The operator's node did not answer and no verified backup copy of this passport could be served."
        " Please try again later."
    ),
    # a backup node whose held copy does not stand (batpass.passport.routes)
    N_("Backup copy not shown"),
    N_("The backup copy held here did not pass its signature check."),
)
