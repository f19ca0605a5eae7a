"""Passport use cases: build, update, dynamic data, lifecycle, mandates, reads, history, backup.

Each use case runs in one unit of work and commits once. Every change writes a new version: the
full record, signed as a compact JWS (Ed25519, the operator node's key) whose payload names the
SHA-256 digest of the previous version's JWS, so the history is a signed hash chain; nothing is
overwritten in place. Each version is also sent, through the outbox in the same transaction, to
the backup node the passport names (Art. 77(5): the passport outlives its operator), which
accepts it with :meth:`PassportService.accept_backup`. Signing and checking are trust's one JWS
signer (``sign_compact``/``verify_compact``).

Writes are allowed to the responsible operator (the one that placed the battery on the market,
or the waste operator once it is waste) or a party it mandated in writing (Art. 77(4)), as data
in ``passport_mandates``. Reads are cut to the reader's tiers (Art. 77(2), Annex XIII) and reads
of restricted tiers are written to the audit log.

Knows no HTTP; the SQL is in ``_sql``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, func, insert, select, update

from batpass.core.errors import Conflict, IntegrityViolation, InvalidInput, NotFound
from batpass.core.findings import Finding
from batpass.core.ids import BatteryId, new_uuid7
from batpass.ledger import UpstreamSummary
from batpass.passport import _chain, _sql
from batpass.passport._backups import BACKUP_KIND, BackupCopies, HeldCopy
from batpass.passport._chain import JWS_TYP, StoredVersion, VersionChain, broken, stored_versions, verify_version_jws
from batpass.passport._chain import digest as token_digest
from batpass.passport._import import ImportedPassport
from batpass.passport._static import StaticProductData, load_static_product_data, summary_values
from batpass.passport.errors import LifecycleViolation, NotResponsible, PassportNotFound
from batpass.passport.model import (
    FIELDS_BY_KEY,
    Mandate,
    Passport,
    PassportRules,
    Quantity,
    Status,
    Tier,
    carried_values,
    check_publishable,
    check_remanufacturing,
    check_scope,
    diff_values,
    new_life_values,
    parse_recovered,
    parse_values,
    readable_keys,
    tiers_for_roles,
    transition,
    visible_view,
)
from batpass.passport.ports import (
    Clock,
    PublicKeyResolver,
    RecycledContentSource,
    SystemClock,
    UpstreamSummarySource,
)
from batpass.store import UnitOfWork, enqueue
from batpass.trust import NodeIdentity, sign_compact

#: how long a version's copy to the backup node is retried (back-off capped at a minute: about
#: an hour and a half of attempts)
BACKUP_ATTEMPTS = 100

__all__ = [
    "BACKUP_KIND",
    "JWS_TYP",
    "PassportService",
    "StaticProductData",
    "StoredVersion",
    "load_static_product_data",
    "summary_values",
    "verify_version_jws",
]

MANDATE_SCOPES = frozenset({"static", "dynamic", "lifecycle"})


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _payload(token: str) -> dict[str, Any]:
    """The payload of a compact JWS we signed ourselves (already verified when stored)."""
    import base64

    part = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


# statements compiled once (bound parameters keep SQLAlchemy's statement cache warm)
_INSERT_VERSION = insert(_sql.versions)
_INSERT_PASSPORT = insert(_sql.passports)
_UPDATE_PASSPORT = update(_sql.passports).where(
    _sql.passports.c.passport_id == bindparam("b_passport_id"),
    _sql.passports.c.version == bindparam("b_version"),
)


class PassportService:
    """Passports held by one node (its operator's, and backup copies for others).

    Constructed by the composition root as ``PassportService(engine, identity,
    rules=PassportRules.from_ruleset(load_ruleset()), resolver_base=ctx.resolver_base,
    backup_url="https://backup-node.example")``; ``key_resolver`` (did:web) checks backup copies;
    ``summaries`` (the ledger) gives a battery's upstream summary when ``build`` gets none.
    """

    def __init__(
        self,
        engine: Engine,
        identity: NodeIdentity,
        *,
        rules: PassportRules,
        resolver_base: str,
        backup_url: str,
        clock: Clock = SystemClock(),
        key_resolver: PublicKeyResolver | None = None,
        summaries: UpstreamSummarySource | None = None,
        recycled: RecycledContentSource | None = None,
        max_copy_bytes: int | None = None,
    ) -> None:
        if not backup_url.startswith("https://"):
            raise InvalidInput(
                "backup_url: the backup node is reached over HTTPS",
                field="backup_url",
                rule='nodes talk only over HTTPS (docs/architecture.md "The node")',
            )
        self.engine = engine
        self.identity = identity
        self.rules = rules
        self.resolver_base = resolver_base.rstrip("/")
        self.backup_url = backup_url.rstrip("/")
        self.clock: Clock = clock
        self.key_resolver = key_resolver
        self.summaries = summaries
        #: the Art. 8 recycled content (model and batch per plant) the passport shows
        self.recycled = recycled
        #: the largest body a backup node takes (the node's own limit): a bigger version is refused
        self.max_copy_bytes = max_copy_bytes
        identity.active("Ed25519")  # a node without a signing key fails here, not at its first build
        self.chain = VersionChain(identity, key_resolver)
        self.backups = BackupCopies(
            engine, identity=identity, clock=self.clock, chain=self.chain, key_resolver=key_resolver
        )

    @property
    def operator(self) -> str:
        return str(self.identity.did)

    # --- building -----------------------------------------------------------------------------

    def build(
        self,
        static: StaticProductData,
        battery: BatteryId,
        *,
        item: Mapping[str, Any] | None = None,
        summary: UpstreamSummary | None = None,
        footprint: Mapping[str, Any] | None = None,
        credentials: Sequence[str] = (),
        actor: str | None = None,
        expected_version: int | None = None,
    ) -> Passport:
        """Build (or rebuild, as a new version) the passport of ``battery``.

        Static data gives the model-level data points, ``item`` the item-level ones, the upstream
        summary and footprint the origin, recycled content and carbon footprint. Publishing
        requires every data point whose state on today's date is ``missing`` to be present.
        """
        actor = actor or self.operator
        if str(battery.gtin) != str(BatteryId(static.gtin, "0").gtin):
            raise InvalidInput(
                f"battery.gtin: {battery.gtin} is not the GTIN of model {static.model_id} ({static.gtin})",
                field="battery.gtin",
                rule="GS1 GTIN identifies the battery model",
            )
        values = dict(static.values)
        values.update(parse_values(item or {}))
        if summary is None and self.summaries is not None:
            summary = self.summaries.summary_for(battery)
        art8 = self.recycled.art8_recycled_for(battery) if self.recycled is not None else None
        values.update(summary_values(summary, footprint, art8=art8))
        if credentials:
            values["credentials"] = tuple(credentials)
        check_scope(static.category, values.get("rated_energy"), self.rules)
        today = self.clock.now().date()
        with UnitOfWork(self.engine) as uow:
            current = self._load_by_battery(uow.conn, battery)
            if current is None:
                if expected_version not in (None, 0):
                    raise Conflict(
                        f"version: passport of {battery} does not exist, expected version {expected_version}",
                        rule="optimistic concurrency (nothing silently overwritten)",
                    )
                passport = Passport(
                    passport_id=new_uuid7(),
                    battery_id=battery,
                    resolver_base=self.resolver_base,
                    category=static.category,
                    model_id=static.model_id,
                    status=Status.ORIGINAL,
                    operator=actor,
                    backup_node=self.backup_url,
                    values=values,
                )
                check_publishable(passport, today, self.rules)
                passport = self._write(uow, passport, None, actor=actor, change="built")
            else:
                self._check_writable(uow.conn, current, actor, "static", today, expected_version)
                if current.category is not static.category:
                    raise InvalidInput(
                        f"category: passport of {battery} is {current.category.value}, input says"
                        f" {static.category.value}",
                        field="category",
                        rule="the category of a battery does not change (Art. 3)",
                    )
                keep = {k: v for k, v in current.values.items() if FIELDS_BY_KEY[k].tier is Tier.DYNAMIC}
                passport = replace(current, values={**values, **keep}, model_id=static.model_id)
                check_publishable(passport, today, self.rules)
                if not diff_values(current.values, passport.values):
                    return current
                passport = self._write(uow, passport, current, actor=actor, change="updated")
            uow.commit()
        return passport

    def import_passport(self, imported: ImportedPassport, *, actor: str | None = None) -> Passport:
        """File a passport read from a Catena-X, Battery Pass or AAS document as this node's.

        Checked like a built one (scope; the data points missing on today's date refused),
        signed and stored as version 1 (change ``imported:<format>``), its backup copy sent. A
        battery that already has a passport here is refused: it is updated, not imported again.
        """
        actor = actor or self.operator
        values = dict(imported.values)
        if imported.dynamic:
            values.update(imported.dynamic)
            values["dynamic_updated_at"] = imported.dynamic_at or self.clock.now().date()
        check_scope(imported.category, values.get("rated_energy"), self.rules)
        today = self.clock.now().date()
        with UnitOfWork(self.engine) as uow:
            if self._load_by_battery(uow.conn, imported.battery) is not None:
                raise Conflict(
                    f"battery_id: {imported.battery} already has a passport on this node; update it instead",
                    rule="one passport per battery (Art. 77(3))",
                    field="battery_id",
                )
            passport = Passport(
                passport_id=new_uuid7(),
                battery_id=imported.battery,
                resolver_base=self.resolver_base,
                category=imported.category,
                model_id=imported.model_id,
                status=imported.status,
                operator=actor,
                backup_node=self.backup_url,
                values=values,
            )
            check_publishable(passport, today, self.rules)
            passport = self._write(uow, passport, None, actor=actor, change=f"imported:{imported.format}")
            uow.commit()
        return passport

    def update(
        self,
        passport_id: uuid.UUID,
        values: Mapping[str, Any],
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Passport:
        """Change static data points (``None`` removes one); a new signed version."""
        parsed = parse_values(values)
        today = self.clock.now().date()
        with UnitOfWork(self.engine) as uow:
            current = self._require(uow.conn, passport_id)
            self._check_writable(uow.conn, current, actor, "static", today, expected_version)
            passport = current.with_values(parsed)
            check_publishable(passport, today, self.rules)
            passport = self._write(uow, passport, current, actor=actor, change="updated")
            uow.commit()
        return passport

    def record_dynamic(
        self,
        passport_id: uuid.UUID,
        values: Mapping[str, Any],
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Passport:
        """Write per-battery dynamic data (Annex XIII (4), Annex VII): state of health, cycles, ...

        ``negative_events`` are appended to those recorded, never replaced.
        """
        for key in values:
            spec = FIELDS_BY_KEY.get(key)
            if spec is None or spec.tier is not Tier.DYNAMIC or spec.derived:
                raise InvalidInput(
                    f"{key}: not a dynamic data point (state_of_health, state_of_charge, remaining_capacity,"
                    " full_cycles, energy_throughput, capacity_fade, negative_events, operating_environment)",
                    field=key,
                    rule="Annex XIII (4)",
                )
        parsed = parse_values(values, allow_dynamic=True)
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            current = self._require(uow.conn, passport_id)
            self._check_writable(uow.conn, current, actor, "dynamic", now.date(), expected_version)
            soh = parsed.get("state_of_health")
            if isinstance(soh, Quantity) and not 0 <= soh.value <= 100:
                raise InvalidInput(
                    f"state_of_health: {soh.value} % is outside 0-100 %",
                    field="state_of_health",
                    rule="Annex VII Part A (state of health in %)",
                )
            cycles = parsed.get("full_cycles")
            before = current.values.get("full_cycles")
            if isinstance(cycles, int) and isinstance(before, int) and cycles < before:
                raise InvalidInput(
                    f"full_cycles: {cycles} is below the {before} already recorded",
                    field="full_cycles",
                    rule="Annex VII Part A (4): cycles only grow",
                )
            if "negative_events" in parsed:
                parsed["negative_events"] = tuple(current.values.get("negative_events", ())) + tuple(
                    parsed["negative_events"]
                )
            parsed["dynamic_updated_at"] = now.date()
            passport = current.with_values(parsed)
            passport = self._write(uow, passport, current, actor=actor, change="dynamic")
            uow.commit()
        return passport

    # --- lifecycle ----------------------------------------------------------------------------

    def mark_waste(self, passport_id: uuid.UUID, *, waste_operator: str, actor: str) -> Passport:
        """The battery became waste: same passport, responsibility to ``waste_operator``."""
        today = self.clock.now().date()
        with UnitOfWork(self.engine) as uow:
            current = self._require(uow.conn, passport_id)
            self._check_writable(uow.conn, current, actor, "lifecycle", today, None)
            passport = transition(current, Status.WASTE, self.rules, waste_operator=waste_operator)
            passport = self._write(uow, passport, current, actor=actor, change="status:waste")
            uow.commit()
        return passport

    def change_status(
        self, passport_id: uuid.UUID, to: str, *, actor: str, waste_operator: str | None = None
    ) -> Passport:
        """Status change keeping the passport; only ``waste`` qualifies (others: :meth:`second_life`)."""
        try:
            target = Status(to)
        except ValueError:
            raise InvalidInput(
                f"status: '{to}' is not a status value ({', '.join(self.rules.statuses)})",
                field="status",
                rule="passport.status.values (Annex XIII (4))",
            ) from None
        if target is Status.WASTE:
            return self.mark_waste(passport_id, waste_operator=waste_operator or "", actor=actor)
        with UnitOfWork(self.engine, write=False) as uow:
            current = self._require(uow.conn, passport_id)
        transition(current, target, self.rules)  # raises: not allowed, or gives a new passport
        raise AssertionError("unreachable")  # pragma: no cover

    def second_life(
        self,
        predecessors: Sequence[uuid.UUID],
        *,
        status: str,
        new_battery: BatteryId,
        new_operator: str,
        actor: str,
        values: Mapping[str, Any] | None = None,
        restored_capacity_ah: float | None = None,
        cell_soh: Sequence[float] = (),
        category: str | None = None,
        use: str | None = None,
    ) -> Passport:
        """Preparing for re-use, repurposing or remanufacturing: a NEW passport and identifier.

        Linked to its predecessor passport(s), whose status stays and which gain a successor
        link; responsibility for the new battery moves to ``new_operator`` (Art. 77(7)).
        Remanufacturing is refused outside Art. 3(1)(32); its restored capacity is recorded.
        A repurposed battery may take a new ``category`` (e.g. stationary storage), model
        (``values.model_name``) and ``use`` (``intended_use``); a new model or category does not
        inherit the old model's carbon footprint declaration (Art. 7: per battery model), which
        the new operator may declare in ``values``.
        """
        try:
            target = Status(status)
        except ValueError:
            raise InvalidInput(
                f"status: '{status}' is not a status value", field="status", rule="passport.status.values"
            ) from None
        rule = "passport.status.transitions (Art. 77(7))"
        if target.value not in self.rules.new_passport_on:
            raise LifecycleViolation(f"status: {target.value} does not give a new passport", rule=rule, field="status")
        if not predecessors:
            raise InvalidInput("predecessors: at least one", field="predecessors", rule=rule)
        updates, new_category = new_life_values(target, values or {}, category=category, use=use)
        today = self.clock.now().date()
        with UnitOfWork(self.engine) as uow:
            olds = [self._require(uow.conn, p) for p in predecessors]
            for old in olds:
                self._check_writable(uow.conn, old, actor, "lifecycle", today, None)
                if old.ended:
                    raise LifecycleViolation(
                        f"status: passport {old.urn} has ended (recycled)", rule=rule, field="status"
                    )
                if target.value not in self.rules.allowed.get(old.status.value, frozenset()):
                    raise LifecycleViolation(
                        f"status: {old.status.value} -> {target.value} is not allowed for {old.urn}",
                        rule=rule,
                        field="status",
                    )
            base = olds[0]
            if target is Status.REMANUFACTURED:
                rated = base.values.get("rated_capacity")
                check_remanufacturing(
                    rated_capacity_ah=rated.value if isinstance(rated, Quantity) else 0.0,
                    restored_capacity_ah=restored_capacity_ah if restored_capacity_ah is not None else 0.0,
                    cell_soh=cell_soh,
                    rules=self.rules,
                )
            if self._load_by_battery(uow.conn, new_battery) is not None:
                raise Conflict(
                    f"battery_id: {new_battery} already has a passport; second life takes a new identifier",
                    rule=rule,
                    field="battery_id",
                )
            carried = carried_values(base, updates, new_category)
            if target is Status.REMANUFACTURED and restored_capacity_ah is not None:
                carried["restored_capacity"] = Quantity(float(restored_capacity_ah), "Ah")
            final_category = new_category or base.category
            rated_energy = carried.get("rated_energy")
            check_scope(final_category, rated_energy if isinstance(rated_energy, Quantity) else None, self.rules)
            new = Passport(
                passport_id=new_uuid7(),
                battery_id=new_battery,
                resolver_base=self.resolver_base,
                category=final_category,
                model_id=base.model_id,
                status=target,
                operator=new_operator,
                backup_node=self.backup_url,
                values={k: v for k, v in carried.items() if v is not None},
                predecessors=tuple(o.passport_id for o in olds),
            )
            new = self._write(uow, new, None, actor=actor, change=f"created:{target.value}")
            now = self.clock.now()
            for old in olds:
                linked = replace(old, successors=(*old.successors, new.passport_id))
                self._write(uow, linked, old, actor=actor, change=f"successor:{target.value}")
                uow.conn.execute(
                    insert(_sql.links).values(
                        predecessor=str(old.passport_id),
                        successor=str(new.passport_id),
                        status=target.value,
                        created_at=now,
                    )
                )
            uow.commit()
        return new

    def recycle(
        self,
        passport_id: uuid.UUID,
        *,
        recycler: str,
        actor: str,
        recovered: Sequence[Mapping[str, Any]] = (),
    ) -> Passport:
        """Recycling ends the passport (Art. 77(8)); it is archived and still resolves as ended.

        The ended record says who recycled the battery, on which day, and what was recovered
        (``recovered``: ``{material, mass_kg}`` records)."""
        recovered_values = parse_recovered(recovered)
        today = self.clock.now().date()
        rule = "passport.status.transitions (Art. 77(8))"
        with UnitOfWork(self.engine) as uow:
            current = self._require(uow.conn, passport_id)
            self._check_writable(uow.conn, current, actor, "lifecycle", today, None)
            if current.ended:
                raise LifecycleViolation("status: the passport has already ended", rule=rule, field="status")
            if current.status is not Status.WASTE:
                raise LifecycleViolation(
                    f"status: a {current.status.value} battery is recycled only once it is waste",
                    rule=rule,
                    field="status",
                )
            ended = replace(current, ended=True, waste_operator=current.waste_operator or recycler)
            ended = ended.with_values(
                {"recycler": recycler, "recycled_on": today, "recovered_materials": recovered_values or None}
            )
            ended = self._write(uow, ended, current, actor=actor, change="ended:recycled")
            uow.commit()
        return ended

    # --- mandates -----------------------------------------------------------------------------

    def grant_mandate(
        self,
        passport_id: uuid.UUID,
        *,
        mandatee: str,
        scope: Iterable[str],
        document: str,
        actor: str,
        valid_from: dt.date | None = None,
        valid_until: dt.date | None = None,
    ) -> Mandate:
        """The responsible operator mandates ``mandatee`` in writing (``document``) to write."""
        scopes = frozenset(scope)
        if not scopes or not scopes <= MANDATE_SCOPES:
            raise InvalidInput(
                f"scope: {sorted(scopes)} must be a non-empty subset of {sorted(MANDATE_SCOPES)}",
                field="scope",
                rule="Art. 77(4) (mandates as data)",
            )
        if not document.strip():
            raise InvalidInput(
                "document: a mandate is given in writing", field="document", rule="Art. 77(4) (written mandate)"
            )
        today = self.clock.now().date()
        with UnitOfWork(self.engine) as uow:
            current = self._require(uow.conn, passport_id)
            if actor != current.responsible():
                raise NotResponsible(
                    f"mandate: only the responsible operator of {current.urn} may mandate others",
                    rule="Art. 77(4)",
                    field="mandate",
                )
            m = Mandate(
                mandate_id=new_uuid7(),
                passport_id=passport_id,
                mandator=actor,
                mandatee=mandatee,
                scope=scopes,
                document=document,
                valid_from=valid_from or today,
                valid_until=valid_until,
            )
            uow.conn.execute(
                insert(_sql.mandates).values(
                    mandate_id=str(m.mandate_id),
                    passport_id=str(passport_id),
                    mandator=m.mandator,
                    mandatee=m.mandatee,
                    scope=sorted(m.scope),
                    document=m.document,
                    valid_from=m.valid_from,
                    valid_until=m.valid_until,
                    created_at=self.clock.now(),
                )
            )
            uow.commit()
        return m

    def mandates(self, passport_id: uuid.UUID) -> list[Mandate]:
        with UnitOfWork(self.engine, write=False) as uow:
            return self._mandates(uow.conn, passport_id)

    # --- reads --------------------------------------------------------------------------------

    def get(self, passport_id: uuid.UUID) -> Passport:
        with UnitOfWork(self.engine, write=False) as uow:
            return self._require(uow.conn, passport_id)

    def find_by_battery(self, battery: BatteryId) -> Passport | None:
        with UnitOfWork(self.engine, write=False) as uow:
            return self._load_by_battery(uow.conn, battery)

    def list_passports(self, *, limit: int = 100, offset: int = 0) -> list[Passport]:
        if not 0 <= offset < 2**63:  # SQL's bigint: a driver overflows past it
            raise InvalidInput(f"offset {offset} outside 0..2^63-1", field="offset", rule="offset a SQL bigint")
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(_sql.passports).order_by(_sql.passports.c.passport_id).limit(limit).offset(offset)
            ).all()
            return [self._signed(uow.conn, r) for r in rows]

    def read(
        self,
        passport: Passport,
        *,
        roles: Iterable[str] = (),
        tiers: Iterable[Tier] | None = None,
        channel: str = "api",
    ) -> dict[str, Any]:
        """The view of ``passport`` for a reader with ``roles`` (or explicit ``tiers``).

        A read that opens any tier beyond the public one is written to the audit log.
        """
        role_set = frozenset(roles)
        tier_set = frozenset(tiers) if tiers is not None else tiers_for_roles(role_set)
        self.audit(passport, roles=role_set, tiers=tier_set, channel=channel)
        return visible_view(passport, tier_set)

    def audit(
        self, passport: Passport, *, roles: Iterable[str], tiers: Iterable[Tier], channel: str | Sequence[str]
    ) -> None:
        """Record a read of restricted tiers (no-op for a public-only read): a row per channel
        (several reads answered together, one transaction)."""
        tier_set = frozenset(tiers)
        channels = [channel] if isinstance(channel, str) else list(channel)
        if not tier_set - {Tier.PUBLIC} or not channels:
            return
        row = {
            "passport_id": str(passport.passport_id),
            "tiers": sorted(t.value for t in tier_set),
            "roles": sorted(roles),
            "read_at": self.clock.now(),
        }
        ids = sorted(str(new_uuid7()) for _ in channels)  # the log's order (by id) is the channels' order
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                insert(_sql.audit), [dict(row, id=i, channel=c) for i, c in zip(ids, channels, strict=True)]
            )
            uow.commit()

    def audit_entries(self, passport_id: uuid.UUID) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(_sql.audit).where(_sql.audit.c.passport_id == str(passport_id)).order_by(_sql.audit.c.id)
            ).all()
        return [
            {"tiers": r.tiers, "roles": r.roles, "channel": r.channel, "readAt": r.read_at.isoformat()} for r in rows
        ]

    def versions(self, passport_id: uuid.UUID) -> list[StoredVersion]:
        """Every signed version, the chain checked (:meth:`_signed`)."""
        return self.with_versions(passport_id)[1]

    def with_versions(self, passport_id: uuid.UUID) -> tuple[Passport, list[StoredVersion]]:
        """The passport and every signed version, from one read of its chain, checked."""
        with UnitOfWork(self.engine, write=False) as uow:
            passport, rows = self._checked(uow.conn, passport_id)
        return passport, stored_versions(rows)

    def history(self, passport_id: uuid.UUID, *, tiers: Iterable[Tier] = (Tier.PUBLIC,)) -> list[dict[str, Any]]:
        """Every version with what changed, cut to ``tiers`` (a hidden field's change is not shown)."""
        keys = readable_keys(tiers)
        out: list[dict[str, Any]] = []
        before: Mapping[str, Any] = {}
        for v in self.versions(passport_id):
            after = Passport.from_record(_payload(v.jws)["passport"]).field_values()
            diff = {k: d for k, d in diff_values(before, after).items() if k in keys}
            out.append(
                {
                    "version": v.version,
                    "digest": v.digest,
                    "prevDigest": v.prev_digest,
                    "actor": v.actor,
                    "change": v.change,
                    "createdAt": v.created_at.isoformat(),
                    "diff": diff,
                }
            )
            before = after
        return out

    def version_record(self, passport_id: uuid.UUID, version: int) -> Passport:
        for v in self.versions(passport_id):
            if v.version == version:
                return Passport.from_record(_payload(v.jws)["passport"])
        raise NotFound(f"version: passport {passport_id} has no version {version}", rule="passport history")

    def verify_chain(self, passport_id: uuid.UUID) -> int:
        """Check every version's signature and the hash chain, and the served row against the
        newest version; returns the number of versions (an IntegrityViolation names a break)."""
        return len(self.versions(passport_id))

    # --- backup copies (this node as another node's backup) -----------------------------------

    def accept_backup(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Store a signed copy sent by a passport's operator node; checks signature and chain."""
        return self.backups.accept(body, idempotency_key=idempotency_key)

    def backup_copies(self, passport_id: uuid.UUID) -> list[dict[str, Any]]:
        return self.backups.copies(passport_id)

    def held_copy(self, battery: BatteryId) -> HeldCopy | None:
        """The newest backup copy this node holds of the battery's passport, checked (or None)."""
        return self.backups.held_for(str(battery.gtin), str(battery.serial))

    def backup_status(self, passport_id: uuid.UUID) -> list[dict[str, Any]]:
        """Where each version's copy to the backup node stands (:meth:`BackupCopies.status`)."""
        with UnitOfWork(self.engine, write=False) as uow:
            self._require(uow.conn, passport_id)
        return self.backups.status(passport_id)

    # --- internals ----------------------------------------------------------------------------

    def _require(self, conn: Connection, passport_id: uuid.UUID) -> Passport:
        return self._checked(conn, passport_id)[0]

    def _checked(self, conn: Connection, passport_id: uuid.UUID) -> tuple[Passport, list[Any]]:
        """The passport (:meth:`_signed`) and its version rows as checked."""
        q = select(_sql.passports).where(_sql.passports.c.passport_id == str(passport_id))
        row = _chain.passport_row(conn, _for_write(conn, q))
        if row is None:
            raise PassportNotFound(f"passport {passport_id} not found", rule="passport identifier")
        return self._signed_chain(conn, row)

    def _load_by_battery(self, conn: Connection, battery: BatteryId) -> Passport | None:
        q = select(_sql.passports).where(
            _sql.passports.c.gtin == str(battery.gtin), _sql.passports.c.serial == str(battery.serial)
        )
        row = _chain.passport_row(conn, _for_write(conn, q))
        if row is None:
            return None
        passport = self._signed(conn, row)
        if passport.battery_id != battery:
            raise broken(row.passport_id, "passport_passports", f"its row is filed under {battery}", row.version)
        return passport

    # --- what is served is what was signed -----------------------------------------------------

    def _signed(self, conn: Connection, row: Any) -> Passport:
        return self._signed_chain(conn, row)[0]

    def _signed_chain(self, conn: Connection, row: Any) -> tuple[Passport, list[Any]]:
        """The passport of a ``passport_passports`` row, taken from its newest signed version
        after checking the whole chain (every version's digest, signature and link) and that the
        row — its record and the columns it is looked up by — is that version. Anything else is
        an :class:`IntegrityViolation` naming the passport and the break; never served, never
        signed over."""
        if type(row.version) is not int:  # SQLite keeps any value in any column
            raise broken(row.passport_id, "passport_passports", f"its version {str(row.version)[:40]!r} is no number")
        chain = self.chain.rows(conn, row.passport_id)
        for _ in range(3):
            if not chain or chain[-1].version <= row.version:
                break
            # PostgreSQL reads each statement at its own snapshot: a writer committed the next
            # version between the row and its chain. Read both again (a writer holds the row
            # locked, so this happens to readers only, and a real break stays a break)
            fresh = _chain.passport_row(
                conn, select(_sql.passports).where(_sql.passports.c.passport_id == row.passport_id)
            )
            if fresh is None:
                break
            row, chain = fresh, self.chain.rows(conn, fresh.passport_id)
        if not chain or chain[-1].version != row.version:
            raise broken(row.passport_id, "passport_versions", f"no signed version {row.version}", row.version)
        if row.record != self.chain.payload(chain[-1].digest)["passport"]:
            raise broken(row.passport_id, "passport_passports", "the stored record differs from the signed one")
        passport = self.chain.passport(chain[-1].digest)
        columns = (row.gtin, row.serial, row.category, row.model_id, row.status, bool(row.ended), row.operator)
        signed = (
            str(passport.battery_id.gtin),
            str(passport.battery_id.serial),
            passport.category.value,
            passport.model_id,
            passport.status.value,
            passport.ended,
            passport.responsible(),
        )
        if columns != signed:
            raise broken(row.passport_id, "passport_passports", "a looked-up column differs from the signed one")
        return passport, chain

    def passport_id_of(self, reference: str) -> uuid.UUID | None:
        """The passport id a ``urn:uuid:`` id or a battery identifier names, looked up without
        reading the passport (so a broken one can still be verified)."""
        if reference.startswith("urn:uuid:"):
            try:
                return uuid.UUID(reference.removeprefix("urn:uuid:"))
            except ValueError as exc:
                raise InvalidInput(f"{reference} is not a urn:uuid", field="passport", rule="RFC 9562") from exc
        battery = BatteryId.parse(reference)
        with UnitOfWork(self.engine, write=False) as uow:
            pid = uow.conn.execute(
                select(_sql.passports.c.passport_id).where(
                    _sql.passports.c.gtin == str(battery.gtin), _sql.passports.c.serial == str(battery.serial)
                )
            ).scalar()
        return None if pid is None else uuid.UUID(pid)

    def verify(self, passport_id: uuid.UUID) -> dict[str, Any]:
        """Check one passport: its whole signed chain and that its served row is the newest
        version. Answers ``{passportId, ok, versions, findings}``."""
        with UnitOfWork(self.engine, write=False) as uow:
            q = select(_sql.passports).where(_sql.passports.c.passport_id == str(passport_id))
            try:
                row = _chain.passport_row(uow.conn, q)
            except IntegrityViolation as exc:  # a value of its row does not read: that is the finding
                findings = [Finding(str(exc.table), str(exc.key), str(exc.rule), exc.message)]
            else:
                if row is None:
                    raise PassportNotFound(f"passport {passport_id} not found", rule="passport identifier")
                findings = self._row_findings(uow.conn, row)
            n = uow.conn.execute(
                select(func.count()).select_from(_sql.versions).where(_sql.versions.c.passport_id == str(passport_id))
            ).scalar_one()
        return {
            "passportId": f"urn:uuid:{passport_id}",
            "ok": not findings,
            "versions": int(n),
            "findings": [f.to_json() for f in findings],
        }

    def _row_findings(self, conn: Connection, row: Any) -> list[Finding]:
        try:
            self._signed(conn, row)
        except IntegrityViolation as exc:
            return [
                Finding(exc.table or "passport_passports", exc.key or str(row.passport_id), str(exc.rule), exc.message)
            ]
        return []

    def self_audit(self) -> list[Finding]:
        """The self-audit of every passport (chain and served row), every version row that
        belongs to no passport, and every backup copy held for another node (digest, payload,
        chain)."""
        out: list[Finding] = []
        with UnitOfWork(self.engine, write=False) as uow:
            conn = uow.conn
            known: set[str] = set()
            for pid in conn.execute(
                select(_sql.passports.c.passport_id).order_by(_sql.passports.c.passport_id)
            ).scalars():
                known.add(pid)
                try:  # one row at a time: a value one row cannot read as does not stop the audit
                    row = _chain.passport_row(conn, select(_sql.passports).where(_sql.passports.c.passport_id == pid))
                except IntegrityViolation as exc:
                    out.append(Finding(str(exc.table), str(exc.key), str(exc.rule), exc.message))
                    continue
                out.extend(self._row_findings(conn, row))
            for (pid,) in conn.execute(select(_sql.versions.c.passport_id).distinct()).all():
                if pid not in known:
                    out.append(Finding("passport_versions", pid, "passport.signed", "versions of no passport"))
            out.extend(self.backups.findings(conn))
        return out

    def _mandates(self, conn: Connection, passport_id: uuid.UUID) -> list[Mandate]:
        rows = conn.execute(select(_sql.mandates).where(_sql.mandates.c.passport_id == str(passport_id))).all()
        return [
            Mandate(
                mandate_id=uuid.UUID(r.mandate_id),
                passport_id=uuid.UUID(r.passport_id),
                mandator=r.mandator,
                mandatee=r.mandatee,
                scope=frozenset(r.scope),
                document=r.document,
                valid_from=r.valid_from,
                valid_until=r.valid_until,
            )
            for r in rows
        ]

    def _check_writable(
        self,
        conn: Connection,
        passport: Passport,
        actor: str,
        scope: str,
        on: dt.date,
        expected_version: int | None,
    ) -> None:
        if passport.ended:
            raise LifecycleViolation(
                f"status: passport {passport.urn} has ended (recycled) and is archived; no write",
                rule="passport.status.transitions (Art. 77(8))",
                field="status",
            )
        if actor != passport.responsible():
            mandated = [
                m
                for m in self._mandates(conn, passport.passport_id)
                if m.mandator == passport.responsible() and m.covers(actor, scope, on)
            ]
            if not mandated:
                raise NotResponsible(
                    f"{scope} data of {passport.urn}: {actor} is neither the responsible operator nor"
                    f" mandated by it in writing for '{scope}'",
                    rule="Art. 77(4) (responsible operator or written mandate)",
                    field=scope,
                )
        if expected_version is not None and expected_version != passport.version:
            raise Conflict(
                f"version: passport {passport.urn} is at version {passport.version}, not {expected_version}",
                rule="optimistic concurrency (nothing silently overwritten)",
                field="version",
            )

    def _write(
        self, uow: UnitOfWork, passport: Passport, previous: Passport | None, *, actor: str, change: str
    ) -> Passport:
        """Sign and store the next version, update the current row, send the backup copy."""
        conn = uow.conn
        version = (previous.version if previous else 0) + 1
        passport = replace(passport, version=version)
        now = self.clock.now()
        prev_digest: str | None = None
        if previous is not None:
            # the whole chain is checked before the next version is signed onto it
            chain = self.chain.rows(conn, str(passport.passport_id))
            if not chain or chain[-1].version != previous.version:
                raise broken(passport.passport_id, "passport_versions", "the chain does not end at the served version")
            prev_digest = chain[-1].digest
        record = passport.to_record()
        payload = {
            "issuer": self.operator,
            "version": version,
            "prev": prev_digest,
            "issuedAt": now.isoformat(),
            "actor": actor,
            "change": change,
            "passport": record,
        }
        # the key active now: a rotation (batpass keys rotate) applies to the next version
        key = self.identity.active("Ed25519")
        token = sign_compact({"typ": JWS_TYP, "kid": self.identity.key_id(key)}, _canonical(payload), key)
        digest = token_digest(token)
        conn.execute(
            _INSERT_VERSION,
            {
                "passport_id": str(passport.passport_id),
                "version": version,
                "jws": token,
                "digest": digest,
                "prev_digest": prev_digest,
                "actor": actor,
                "change": change,
                "created_at": now,
            },
        )
        row_values = {
            "category": passport.category.value,
            "model_id": passport.model_id,
            "status": passport.status.value,
            "ended": passport.ended,
            "operator": passport.responsible(),
            "version": version,
            "record": record,
            "updated_at": now,
        }
        if previous is None:
            conn.execute(
                _INSERT_PASSPORT,
                {
                    "passport_id": str(passport.passport_id),
                    "gtin": str(passport.battery_id.gtin),
                    "serial": str(passport.battery_id.serial),
                    **row_values,
                },
            )
        else:
            res = conn.execute(
                _UPDATE_PASSPORT,
                {"b_passport_id": str(passport.passport_id), "b_version": previous.version, **row_values},
            )
            if res.rowcount != 1:
                raise Conflict(
                    f"version: passport {passport.urn} changed concurrently",
                    rule="optimistic concurrency (nothing silently overwritten)",
                )
        copy = {"jws": token}
        if self.max_copy_bytes is not None and len(json.dumps(copy)) > self.max_copy_bytes:
            # never sign what the backup node cannot take: the version is refused, nothing stored
            raise InvalidInput(
                f"passport {passport.urn}: this version's signed copy would be {len(json.dumps(copy))} bytes,"
                f" over the {self.max_copy_bytes} bytes a backup node takes",
                field="(body)",
                rule="Art. 77(5): every version has a backup copy (one size limit for operator and backup)",
            )
        enqueue(
            uow,
            kind=BACKUP_KIND,
            destination=f"{passport.backup_node}/v1/passports/backup",
            body=copy,
            idempotency_key=f"passport-backup:{passport.passport_id}:{version}",
            # a refused or failing copy is retried with its cause kept, never dropped (backup_status)
            retry_refused=True,
            max_attempts=BACKUP_ATTEMPTS,
        )
        return passport


def _for_write(conn: Connection, query: Select[Any]) -> Select[Any]:
    """A passport row read to write its next version is locked until the transaction ends
    (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction holds the database), so concurrent
    writers of one passport, on any worker, sign their versions one after the other."""
    return query.with_for_update() if conn.info.get("write") else query
