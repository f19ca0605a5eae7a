"""ODRL evaluation of offers and agreements against the requesting participant.

Policies are DSP 2025-1 ODRL in compacted form (``permission``/``prohibition``/``obligation``
with ``action`` and ``constraint``), using the Catena-X 2025-09 policy vocabulary (CX-0152,
context ``https://w3id.org/catenax/2025/9/policy/context.jsonld``). Constraint semantics:

- ``Membership eq active``: the participant presented a verified ``MembershipCredential``.
- ``FrameworkAgreement eq <Name>[:<version>]``: a verified ``<Name>Credential`` (e.g.
  ``DataExchangeGovernance:1.0`` → ``DataExchangeGovernanceCredential``), valid at evaluation
  time, whose subject's ``contractVersion`` is ``<version>`` (the same credential satisfies both,
  as Tractus-X EDC's ``FrameworkAgreementCredentialConstraintFunction`` checks it). A participant
  whose verifier reports only credential types (no claims) is taken at its type; a refusal names
  why the credential was not accepted when the verifier says so (e.g. expired, revoked).
- ``BusinessPartnerNumber isAnyOf/isNoneOf`` (and ``eq``/``neq``): the verified BPNL.
- ``BusinessPartnerGroup isAnyOf/isNoneOf``: the groups the *provider* put that BPNL in.
- ``spatial`` (DSP example) ``eq``/``isAnyOf``: the verified region claim.
- ``dateTime`` ``lt/lteq/gt/gteq``, ``DataProvisioningEndDate eq``, ``DataUsageEndDate eq``:
  validity dates against the evaluation time.
- ``UsagePurpose``, ``AffiliatesRegion``, ``AffiliatesBpnl``, ``ConfidentialInformation*``,
  ``ContractReference``, ``Warranty*``, ``Liability``, ... : contractual terms the consumer accepts
  by agreeing (CX-0152); they hold at evaluation and are carried into the agreement unchanged.
- anything else: not satisfied (fail closed), named in the decision.

The access-policy *projection* turns an access policy into the gates the catalog query filters on
in the database (allowed/denied BPNs and groups, required credentials, validity window); a policy
the projection cannot express exactly is refused when the offer is registered. Pure module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from batpass.core.clock import utc_now
from batpass.core.errors import InvalidInput
from batpass.dataspace.model import Participant

__all__ = [
    "AccessGates",
    "Decision",
    "EvaluationContext",
    "evaluate",
    "normalise_policy",
    "project_access",
    "usage_purposes",
]

_PREFIXES = (
    "https://w3id.org/catenax/2025/9/policy/",
    "https://w3id.org/catenax/policy/",
    "cx-policy:",
    "http://www.w3.org/ns/odrl/2/",
    "odrl:",
)

#: contractual terms that hold at evaluation time and bind the consumer once agreed (CX-0152)
CONTRACTUAL_TERMS = frozenset(
    {
        "UsagePurpose",
        "AffiliatesRegion",
        "AffiliatesBpnl",
        "ConfidentialInformationMeasures",
        "ConfidentialInformationSharing",
        "ContractReference",
        "ContractTermination",
        "DataFrequency",
        "DataUsageEndDefinition",
        "DataUsageEndDurationDays",
        "DataProvisioningEndDurationDays",
        "ExclusiveUsage",
        "JurisdictionLocation",
        "JurisdictionLocationReference",
        "Liability",
        "Precedence",
        "UsageRestriction",
        "VersionChanges",
        "Warranty",
        "WarrantyDefinition",
        "WarrantyDurationMonths",
    }
)


def _name(term: Any) -> str:
    if isinstance(term, Mapping):
        term = term.get("@id", "")
    text = str(term)
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _values(right: Any) -> list[str]:
    if isinstance(right, list):
        return [str(v.get("@value", v.get("@id", "")) if isinstance(v, Mapping) else v) for v in right]
    if isinstance(right, Mapping):
        return [str(right.get("@value", right.get("@id", "")))]
    return [str(right)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _parse_time(text: str, *, field_name: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"'{text}' is not an RFC 3339 date-time", field=field_name, rule="ODRL dateTime operand"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    participant: Participant
    groups: frozenset[str] = frozenset()
    now: dt.datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    failures: tuple[str, ...] = ()


def _framework(value: str) -> tuple[str, str | None]:
    """``DataExchangeGovernance:1.0`` → (``DataExchangeGovernanceCredential``, ``1.0``)."""
    name, _, version = value.partition(":")
    return name[:1].upper() + name[1:] + "Credential", version or None


def _credential_for_framework(value: str) -> str:
    return _framework(value)[0]


def _framework_failure(value: str, ctx: EvaluationContext) -> str | None:
    """None when the participant holds the framework agreement ``value``, else why not."""
    ctype, version = _framework(value)
    p = ctx.participant
    head = f"FrameworkAgreement {value}"
    if ctype not in p.memberships:
        why = p.refused.get(ctype)
        return f"{head}: the {ctype} presented was not accepted ({why})" if why else f"{head}: no verified {ctype}"
    held = [c for c in p.credentials if ctype in c.types]
    if not held:  # the verifier reported the type only (no claims): the type is what it verified
        return None
    live = [c for c in held if c.valid_until is None or ctx.now <= c.valid_until]
    if not live:
        ended = max(c.valid_until for c in held if c.valid_until is not None)
        return f"{head}: the {ctype} expired at {ended.isoformat()}"
    if version is not None and not any(str(c.subject.get("contractVersion", "")) == version for c in live):
        seen = ", ".join(sorted({str(c.subject.get("contractVersion")) for c in live}))
        return f"{head}: the {ctype} is for contractVersion {seen}, not {version}"
    return None


def _atomic(c: Mapping[str, Any], ctx: EvaluationContext) -> str | None:
    """None when the constraint holds, else a sentence saying why not."""
    left = _name(c.get("leftOperand"))
    op = _name(c.get("operator"))
    values = _values(c.get("rightOperand"))
    p = ctx.participant
    if left == "Membership":
        ok = op == "eq" and values == ["active"] and "MembershipCredential" in p.memberships
        return None if ok else "Membership: no verified MembershipCredential"
    if left == "FrameworkAgreement":
        if op != "eq":
            return f"FrameworkAgreement: operator {op} not supported (CX-0152: eq)"
        failures = [f for f in (_framework_failure(v, ctx) for v in values) if f]
        return "; ".join(failures) if failures else None
    if left in ("BusinessPartnerNumber", "BusinessPartnerGroup"):
        mine = {p.bpnl} if left == "BusinessPartnerNumber" and p.bpnl else set()
        if left == "BusinessPartnerGroup":
            mine = set(ctx.groups)
        hit = bool(mine & set(values))
        if op in ("isAnyOf", "eq", "isPartOf"):
            ok = hit
        elif op in ("isNoneOf", "neq"):
            ok = not hit
        else:
            return f"{left}: operator {op} not supported"
        return None if ok else f"{left} {op} {values} does not hold for the requester"
    if left == "spatial":
        ok = p.region is not None and p.region in values if op in ("eq", "isAnyOf", "isPartOf") else False
        return None if ok else f"spatial {op} {values} does not hold for the requester"
    if left in ("dateTime", "DataProvisioningEndDate", "DataUsageEndDate"):
        if len(values) != 1:
            return f"{left}: one date-time expected"
        at = _parse_time(values[0], field_name=f"constraint.{left}")
        if left != "dateTime":
            op = "lteq"  # an end date: valid until and including it (CX-0152)
        checks = {
            "lt": ctx.now < at,
            "lteq": ctx.now <= at,
            "gt": ctx.now > at,
            "gteq": ctx.now >= at,
            "eq": ctx.now == at,
        }
        if op not in checks:
            return f"{left}: operator {op} not supported"
        return None if checks[op] else f"{left} {op} {values[0]} does not hold at {ctx.now.isoformat()}"
    if left in CONTRACTUAL_TERMS:
        return None
    return f"unknown constraint {left or '(no leftOperand)'}: refused (fail closed)"


def _constraint(c: Mapping[str, Any], ctx: EvaluationContext) -> list[str]:
    for op in ("and", "andSequence"):
        if op in c:
            out: list[str] = []
            for sub in _as_list(c[op]):
                out.extend(_constraint(sub, ctx))
            return out
    if "or" in c:
        results = [_constraint(sub, ctx) for sub in _as_list(c["or"])]
        if any(not r for r in results):
            return []
        return [f"none of the 'or' branches holds: {'; '.join(r[0] for r in results if r)}"]
    if "xone" in c:
        results = [_constraint(sub, ctx) for sub in _as_list(c["xone"])]
        holding = sum(1 for r in results if not r)
        return [] if holding == 1 else [f"'xone' needs exactly one branch to hold, {holding} do"]
    failure = _atomic(c, ctx)
    return [failure] if failure else []


def evaluate(policy: Mapping[str, Any], ctx: EvaluationContext) -> Decision:
    """Whether every permission's constraints hold for the participant (access or usage time).

    Prohibitions and obligations bind the consumer's later use; they are carried into the
    agreement, not evaluated here. A policy without a permission grants nothing.
    """
    failures: list[str] = []
    permissions = _as_list(policy.get("permission"))
    if not permissions:
        return Decision(False, ("the policy has no permission",))
    for rule in permissions:
        for c in _as_list(rule.get("constraint")):
            failures.extend(_constraint(c, ctx))
    return Decision(not failures, tuple(failures))


def usage_purposes(policy: Mapping[str, Any]) -> frozenset[str]:
    """The ``UsagePurpose`` values a policy names (e.g. ``cx.circular.dpp:1``)."""
    found: set[str] = set()

    def walk(c: Mapping[str, Any]) -> None:
        for op in ("and", "or", "xone", "andSequence"):
            for sub in _as_list(c.get(op)):
                walk(sub)
        if _name(c.get("leftOperand")) == "UsagePurpose":
            found.update(_values(c.get("rightOperand")))

    for kind in ("permission", "prohibition", "obligation"):
        for rule in _as_list(policy.get(kind)):
            for c in _as_list(rule.get("constraint")):
                walk(c)
    return frozenset(found)


def normalise_policy(policy: Mapping[str, Any]) -> Any:
    """A comparable form of a policy's rules: ids, types and targets dropped, 1-lists unwrapped,
    ``and`` lists order-insensitive, term prefixes removed. Two policies with the same rules
    compare equal however they were compacted (offer vs. requested offer vs. agreement)."""

    def norm(value: Any, key: str | None = None) -> Any:
        if isinstance(value, Mapping):
            return tuple(
                sorted(
                    (k, norm(v, k))
                    for k, v in value.items()
                    if k not in ("@id", "@type", "@context", "target", "assigner", "assignee", "timestamp", "profile")
                )
            )
        if isinstance(value, list):
            items = [norm(v, key) for v in value]
            if len(items) == 1:
                return items[0]
            return tuple(sorted(items, key=repr))
        if isinstance(value, str) and key in ("leftOperand", "operator", "action"):
            return _name(value)
        return value

    return norm({k: policy[k] for k in ("permission", "prohibition", "obligation") if k in policy})


@dataclass(frozen=True, slots=True)
class AccessGates:
    """An access policy reduced to what the catalog query filters on in SQL (exact, ``and`` only)."""

    bpns_any: frozenset[str] | None = None
    bpns_none: frozenset[str] = frozenset()
    groups_any: frozenset[str] | None = None
    groups_none: frozenset[str] = frozenset()
    credentials: frozenset[str] = frozenset()
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    impossible: bool = False  # e.g. an empty allow-list intersection, or spatial: nobody sees it

    def rows(self) -> list[tuple[str, str]]:
        out = [("bpn", v) for v in sorted(self.bpns_any or ())]
        out += [("not_bpn", v) for v in sorted(self.bpns_none)]
        out += [("group", v) for v in sorted(self.groups_any or ())]
        out += [("not_group", v) for v in sorted(self.groups_none)]
        out += [("cred", v) for v in sorted(self.credentials)]
        return out


def _flatten_and(constraints: Iterable[Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for c in constraints:
        if not isinstance(c, Mapping):
            raise InvalidInput("a constraint must be an object", field="constraint", rule="DSP contract schema")
        if "and" in c or "andSequence" in c:
            out.extend(_flatten_and(_as_list(c.get("and", c.get("andSequence")))))
        elif "or" in c or "xone" in c:
            raise InvalidInput(
                "access policies may combine constraints with 'and' only",
                field="access_policy.permission.constraint",
                rule="CX-0152 AccessPermissionLogicalConstraint (and)",
            )
        else:
            out.append(c)
    return out


def _intersect(current: frozenset[str] | None, new: Sequence[str]) -> frozenset[str]:
    return frozenset(new) if current is None else current & frozenset(new)


def project_access(policy: Mapping[str, Any]) -> AccessGates:
    """Reduce an access policy to SQL gates; raise InvalidInput for what cannot be filtered exactly."""
    permissions = _as_list(policy.get("permission"))
    if not permissions:
        return AccessGates(impossible=True)
    g: dict[str, Any] = {
        "bpns_any": None,
        "bpns_none": frozenset(),
        "groups_any": None,
        "groups_none": frozenset(),
        "credentials": frozenset(),
        "not_before": None,
        "not_after": None,
        "impossible": False,
    }
    for rule in permissions:
        for c in _flatten_and(_as_list(rule.get("constraint"))):
            left, op, values = _name(c.get("leftOperand")), _name(c.get("operator")), _values(c.get("rightOperand"))
            field_name = f"access_policy.constraint.{left}"
            if left == "Membership":
                if op != "eq" or values != ["active"]:
                    raise InvalidInput("Membership must be 'eq active'", field=field_name, rule="CX-0152 Membership")
                g["credentials"] = g["credentials"] | {"MembershipCredential"}
            elif left == "FrameworkAgreement":
                if op != "eq":
                    raise InvalidInput("FrameworkAgreement takes 'eq'", field=field_name, rule="CX-0152")
                g["credentials"] = g["credentials"] | {_credential_for_framework(v) for v in values}
            elif left in ("BusinessPartnerNumber", "BusinessPartnerGroup"):
                any_key, none_key = (
                    ("bpns_any", "bpns_none") if left == "BusinessPartnerNumber" else ("groups_any", "groups_none")
                )
                if op in ("isAnyOf", "eq", "isPartOf"):
                    g[any_key] = _intersect(g[any_key], values)
                elif op in ("isNoneOf", "neq"):
                    g[none_key] = g[none_key] | frozenset(values)
                else:
                    raise InvalidInput(f"{left} takes isAnyOf or isNoneOf", field=field_name, rule="CX-0152")
            elif left in ("dateTime", "DataProvisioningEndDate", "DataUsageEndDate"):
                at = _parse_time(values[0] if values else "", field_name=field_name)
                if left != "dateTime" or op in ("lteq", "lt"):
                    if op == "lt":
                        at = at - dt.timedelta(microseconds=1)
                    g["not_after"] = at if g["not_after"] is None else min(g["not_after"], at)
                elif op in ("gteq", "gt"):
                    if op == "gt":
                        at = at + dt.timedelta(microseconds=1)
                    g["not_before"] = at if g["not_before"] is None else max(g["not_before"], at)
                else:
                    raise InvalidInput(f"dateTime takes lt/lteq/gt/gteq, not {op}", field=field_name, rule="ODRL")
            elif left in CONTRACTUAL_TERMS:
                continue
            else:
                raise InvalidInput(
                    f"access constraint {left or '(none)'} cannot gate a catalog",
                    field=field_name,
                    rule="access policies: Membership, FrameworkAgreement, BusinessPartnerNumber/Group, dates",
                )
    for key in ("bpns_any", "groups_any"):
        if g[key] is not None and not g[key]:
            g["impossible"] = True
    return AccessGates(**g)
