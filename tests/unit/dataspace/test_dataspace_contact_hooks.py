"""The provider's contact hooks: each verified catalog or contract request is told to every hook;
a hook that fails never reaches the request (docs/dataspace.md "Channels opened on first contact")."""

from __future__ import annotations

from batpass.dataspace._contact import ContactHooks
from batpass.dataspace.model import Participant

WHO = Participant("did:web:customer.example", "BPNL000000000CUS", frozenset({"MembershipCredential"}))


def test_every_hook_hears_each_contact_and_a_failing_hook_is_contained() -> None:
    heard: list[str] = []

    def broken(_: str) -> None:
        raise RuntimeError("a bug in a hook")

    hooks = ContactHooks()
    hooks.add(broken)
    hooks.add(heard.append)
    hooks.note(WHO.did)  # does not raise
    hooks.note(WHO.did)
    assert heard == [WHO.did, WHO.did]


def test_no_hook_no_effect() -> None:
    ContactHooks().note(WHO.did)
