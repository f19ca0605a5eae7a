"""Errors of the identity crosswalk, all on batpass's one error tree.

- :class:`EntryMalformed`: the document breaks the crosswalk-entry format
  (``_data/crosswalk-entry.schema.json``) or an identifier fails its rule (corporate number check
  digit, BPNL/BPNS pattern, DID syntax).
- :class:`SignatureRejected`: the JWS does not verify over the entry's RFC 8785 canonical JSON
  with the key its ``kid`` names, or that key is not the asserter's.
- :class:`UntrustedAsserter`: the signer is not trusted for this kind of crosswalk assertion.
- :class:`CrosswalkConflict`: an identifier is already mapped differently and the entry does not
  supersede that mapping with a newer assertion by the same party.
"""

from __future__ import annotations

from batpass.core.errors import Conflict, Forbidden, InvalidInput

__all__ = ["CrosswalkConflict", "EntryMalformed", "SignatureRejected", "UntrustedAsserter"]


class EntryMalformed(InvalidInput):
    """The crosswalk entry document is not in the crosswalk-entry format."""

    kind = "crosswalk-entry-malformed"


class SignatureRejected(InvalidInput):
    """The entry's signature does not prove that its asserter signed exactly this entry."""

    kind = "crosswalk-signature-rejected"


class UntrustedAsserter(Forbidden):
    """The asserter is not trusted for crosswalk assertions of this kind."""

    kind = "crosswalk-untrusted-asserter"


class CrosswalkConflict(Conflict):
    """The entry contradicts a stored mapping it does not (validly) supersede."""

    kind = "crosswalk-conflict"
