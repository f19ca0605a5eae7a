"""Who is told when a participant first contacts this node's provider (:class:`ContactHooks`).

The provider calls :meth:`ContactHooks.note` with the DID of the caller of each catalog request
and contract request as soon as its identity is proven — its self-issued token verified
(signature by a key of its DID document, audience, time) — while its credentials are still being
asked for and checked, and always before it answers (a verifier that cannot tell the identity
apart from the credentials tells it once the participant is verified). The request itself is
answered only to a verified participant, as before; a hook only hears who is calling. A hook is
a plain function that only *starts* work of its own (it must return at once: the request that
triggered it never waits for it), and a hook that raises is logged and ignored: the request is
answered as if no hook were there. The dataspace package knows nothing of what a hook does (the
federation opens its own channels to its suppliers when one of its customers asks for its
catalog: docs/dataspace.md "Channels opened on first contact").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

__all__ = ["ContactHook", "ContactHooks"]

log = logging.getLogger(__name__)

#: told of the DID of a catalog or contract request's caller, its token verified; must return at once
ContactHook = Callable[[str], None]


class ContactHooks:
    """The hooks told of each verified contact with this node's provider."""

    def __init__(self) -> None:
        self._hooks: list[ContactHook] = []

    def add(self, hook: ContactHook) -> None:
        """Tell ``hook`` of every later contact (once per registration)."""
        self._hooks.append(hook)

    def note(self, did: str) -> None:
        """Tell every hook that ``did`` (its token verified) contacted the provider; a hook that
        fails is logged, never raised to the request."""
        for hook in list(self._hooks):
            try:
                hook(did)
            except Exception:  # a hook only saves time later: the request goes on
                log.warning("a contact hook failed", exc_info=True)
