"""Recognition: the trust lists this node follows (each verified against its configured
operator's pinned keys), the node's mutual-recognition policy, the node as an ecosystem's
trust-list operator, and the self-audit of the signed trust store (docs/trust-lists.md).

The registry is built only from the signed forms (docs/decisions/2026-12-06-signed-trust-store.md):
no network at start, and a row that does not verify is a finding and is left out. Knows the
trust-list, pinned-key and policy tables; knows nothing of issuing, nonces or verifying.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.core.findings import Finding
from batpass.store import UnitOfWork
from batpass.trust import _sql, _stored
from batpass.trust._context import TrustContext, log
from batpass.trust._jose import peek
from batpass.trust._trustlist import admit_signing_key, load_trust_list, sign_trust_list, validate_json
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RecognitionPolicy, RejectReason, TrustList

__all__ = ["Recognition"]


class Recognition:
    def __init__(self, context: TrustContext) -> None:
        self.context = context

    def load(self) -> None:
        """Build the registry from the signed forms only (docs/trust-lists.md "Stored signed"):
        no network, and a row that does not verify is a finding and is left out, never a reason
        not to start."""
        stored = self.context.read_store()
        for tl in stored.lists:
            self.context.registry.add(tl)
        if stored.policy is not None:
            self.context.registry.policy = stored.policy

    def self_audit(self) -> list[Finding]:
        """Check every stored trust list, pinned key, policy and held credential against its
        signed form now; each row that does not verify (or whose plain columns differ from it) is
        a finding naming table, key and rule. The registry in memory is left as loaded."""
        return list(self.context.read_store().findings)

    async def add_trust_list(self, jws: str, *, ecosystem: str) -> TrustList:
        """Verify a trust list signed by the configured operator of ``ecosystem`` and keep it.

        The signing key is checked against the operator's pinned keys (docs/trust-lists.md
        "Pinned keys and rotation"): the operator's first list pins it; a key not pinned is
        accepted only when the operator's DID document lists it and lists every pinned key as
        retired, not revoked, and is then pinned in turn."""
        ctx = self.context
        operator = ctx.operators.get(ecosystem)
        if operator is None:
            raise CredentialRejected(
                f"no operator DID configured for ecosystem {ecosystem!r}",
                reason=RejectReason.TRUST_LIST,
                rule="trust lists are accepted only from configured ecosystem operators",
            )
        jws = jws.strip()
        # the key the list names: a cached document that lacks it (the operator rotated) is
        # fetched again, so the rotation is judged on the operator's current document
        document = await ctx.resolver.resolve(operator, kid=peek(jws)[0].get("kid"))
        tl = load_trust_list(jws, ctx.resolver, operator=operator, ecosystem=ecosystem, now=ctx.clock.now())
        held = ctx.registry.lists.get(ecosystem)
        if held is not None and tl.sequence < held.sequence:
            raise CredentialRejected(
                f"trust list sequence {tl.sequence} is older than the held {held.sequence}",
                reason=RejectReason.TRUST_LIST,
                rule="trust lists never roll back",
            )
        kid = str(peek(jws)[0]["kid"])
        now = ctx.clock.now()
        with UnitOfWork(ctx.engine) as uow:
            pins, broken = _stored.read_pins(uow.conn, ctx.identity, operator=operator)
            if broken:
                for f in broken:
                    ctx.findings.settle(f.table, f.key, [f])
                raise CredentialRejected(
                    f"the keys pinned for {operator} do not verify ({broken[0].detail}); "
                    "remove its rows from trust_pinned_keys to pin afresh from its DID document",
                    reason=RejectReason.TRUST_LIST,
                    rule=_stored.PIN,
                )
            admission = admit_signing_key(kid, document, pins, now=now)
            pk = _sql.pinned_keys
            if admission.pin is not None:
                uow.conn.execute(pk.insert().values(**_stored.pin_values(ctx.identity, admission.pin, now=now)))
            for old in admission.retire:
                uow.conn.execute(
                    pk.update()
                    .where(pk.c.operator == old.operator, pk.c.kid == old.kid)
                    .values(**_stored.pin_values(ctx.identity, old, now=now))
                )
            t = _sql.trust_lists
            uow.conn.execute(t.delete().where(t.c.ecosystem == ecosystem))
            uow.conn.execute(
                t.insert().values(
                    ecosystem=ecosystem,
                    operator=operator,
                    sequence=tl.sequence,
                    jws=jws,
                    body=tl.to_json(),
                    loaded_at=now,
                    attestation=_stored.list_attestation(ctx.identity, tl, jws, now=now),
                )
            )
            uow.commit()
        ctx.registry.add(tl)
        ctx.findings.settle(_sql.trust_lists.name, ecosystem)
        if admission.how == "rotated":
            log.warning("trust: %s rotated its trust-list key to %s (old key retired)", operator, kid)
        return tl

    def sign_trust_list(self, data: Mapping[str, Any]) -> str:
        """This node as an ecosystem operator: sign a trust list (schema-checked; its
        ``operator`` must be this node's DID) with the node's active Ed25519 key."""
        return sign_trust_list(dict(data), self.context.identity)

    def trust_lists(self) -> list[TrustList]:
        lists = self.context.registry.lists
        return [lists[k] for k in sorted(lists)]

    def set_policy(self, data: Mapping[str, Any]) -> RecognitionPolicy:
        ctx = self.context
        validate_json(dict(data), "recognition-policy.schema.json")
        policy = RecognitionPolicy.from_json(data)
        if policy.ecosystem != ctx.ecosystem:
            raise InvalidInput(
                f"policy is for {policy.ecosystem}, this node is in {ctx.ecosystem}",
                field="ecosystem",
                rule="a node applies its own ecosystem's recognition policy",
            )
        now = ctx.clock.now()
        with UnitOfWork(ctx.engine) as uow:
            t = _sql.policies
            uow.conn.execute(t.delete().where(t.c.ecosystem == policy.ecosystem))
            uow.conn.execute(
                t.insert().values(
                    ecosystem=policy.ecosystem,
                    body=policy.to_json(),
                    updated_at=now,
                    # the node is the author of its own policy: it signs it, and loads only that
                    attestation=_stored.policy_attestation(ctx.identity, policy, now=now),
                )
            )
            uow.commit()
        ctx.registry.policy = policy
        ctx.findings.settle(_sql.policies.name, policy.ecosystem)
        return policy
