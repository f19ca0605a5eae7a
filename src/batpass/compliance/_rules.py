"""Rulesets as versioned data: loading and validating ``_rulesets/<name>@<version>.yaml``.

Role: the one reader of the rule files (contract section 3). A rule carries its article, source,
text, effective date (``None`` when the act that would set it is not adopted → "not yet
determinable"), the ``earliest`` date of an "X, or N months after the act, whichever is later"
obligation, what it applies to, the battery categories in scope, and its parameters.
``effective: always`` marks a format rule that holds whenever the format is used (``date.min``).
A rule may also carry an ``outcome`` ("information", or "not set" for a cap, class or minimum no
instrument sets), a ``pending`` note (why a ``null`` date is not determinable) and its
``evidence`` (what it accepts; data, so that recognition across markets can extend it).

Sources: Regulation (EU) 2023/1542; the rules as docs/rules.md lists them. This module knows no evaluation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from batpass.core.errors import ConfigurationError, InvalidInput, NotFound

ALWAYS = dt.date.min
APPLIES_TO = frozenset({"battery", "model", "operator", "recycler", "footprint"})
CATEGORIES = frozenset({"portable", "lmt", "sli", "industrial", "ev"})
OUTCOMES = frozenset({"information", "not set"})
_REQUIRED = ("id", "article", "source", "text", "effective", "applies_to", "params")


@dataclass(frozen=True)
class Rule:
    """One rule of a ruleset, with its legal reference."""

    id: str
    article: str
    source: str
    text: str
    effective: dt.date | None
    applies_to: str
    params: Mapping[str, Any]
    earliest: dt.date | None = None
    categories: frozenset[str] = frozenset()
    #: None: checked against the subject's values; "information" or "not set": a standing statement
    outcome: str | None = None
    #: why a rule without a date is "not yet determinable" (default: its act is not adopted)
    pending: str | None = None
    #: what the rule accepts as evidence (open for recognition of other markets' evidence)
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        """Article and source, as a report cites them."""
        return f"{self.article} — {self.source}"


@dataclass(frozen=True)
class Ruleset:
    """A named, versioned set of rules (one regulation version)."""

    name: str
    version: str
    title: str
    source: str
    as_of: dt.date
    rules: Mapping[str, Rule] = field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError as exc:
            raise NotFound(
                f"ruleset {self.name}@{self.version} has no rule {rule_id!r}", rule="compliance ruleset"
            ) from exc

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules.values())

    def __len__(self) -> int:
        return len(self.rules)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _date(value: Any, where: str) -> dt.date | None:
    if value is None:
        return None
    if value == "always":
        return ALWAYS
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise ConfigurationError(f"{where}: {value!r} is not a date, 'always' or null", rule="ruleset format")


def _parse(text: str, origin: str) -> Ruleset:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigurationError(f"{origin}: a ruleset is a mapping", rule="ruleset format")
    rules: dict[str, Rule] = {}
    for index, raw in enumerate(data.get("rules") or []):
        where = f"{origin} rules[{index}]"
        missing = [key for key in _REQUIRED if key not in raw]
        if missing:
            raise ConfigurationError(f"{where}: missing {', '.join(missing)}", rule="ruleset format")
        if raw["applies_to"] not in APPLIES_TO:
            raise ConfigurationError(f"{where}: applies_to {raw['applies_to']!r}", rule="ruleset format")
        categories = frozenset(raw.get("categories") or ())
        if not categories <= CATEGORIES:
            raise ConfigurationError(
                f"{where}: unknown categories {sorted(categories - CATEGORIES)}", rule="ruleset format"
            )
        outcome = raw.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise ConfigurationError(
                f"{where}: outcome {outcome!r} is not one of {sorted(OUTCOMES)}", rule="ruleset format"
            )
        rule = Rule(
            id=str(raw["id"]),
            article=str(raw["article"]),
            source=str(raw["source"]),
            text=str(raw["text"]),
            effective=_date(raw["effective"], where),
            earliest=_date(raw.get("earliest"), where),
            applies_to=str(raw["applies_to"]),
            params=dict(raw["params"] or {}),
            categories=categories,
            outcome=None if outcome is None else str(outcome),
            pending=None if raw.get("pending") is None else str(raw["pending"]),
            evidence=dict(raw.get("evidence") or {}),
        )
        if rule.id in rules:
            raise ConfigurationError(f"{where}: duplicate rule id {rule.id}", rule="ruleset format")
        rules[rule.id] = rule
    as_of = _date(data.get("as_of"), origin)
    return Ruleset(
        name=str(data["name"]),
        version=str(data["version"]),
        title=str(data.get("title", "")),
        source=str(data.get("source", "")),
        as_of=as_of or ALWAYS,
        rules=rules,
    )


@cache
def _available() -> dict[tuple[str, str], Ruleset]:
    found: dict[tuple[str, str], Ruleset] = {}
    folder = resources.files("batpass.compliance") / "_rulesets"
    for entry in folder.iterdir():
        if not entry.name.endswith(".yaml"):
            continue
        ruleset = _parse(entry.read_text(encoding="utf-8"), entry.name)
        if entry.name != f"{ruleset.name}@{ruleset.version}.yaml":
            raise ConfigurationError(f"{entry.name}: file name must be <name>@<version>.yaml", rule="ruleset format")
        found[(ruleset.name, ruleset.version)] = ruleset
    return found


def available_rulesets() -> list[tuple[str, str]]:
    """``(name, version)`` of every bundled ruleset."""
    return sorted(_available())


def load_ruleset(name: str = "eu-2023-1542", version: str | None = None) -> Ruleset:
    """The bundled ruleset ``name`` at ``version`` (the newest when ``None``)."""
    candidates = {v: rs for (n, v), rs in _available().items() if n == name}
    if not candidates:
        known = sorted({n for n, _ in _available()})
        raise InvalidInput(
            f"no ruleset named {name!r} (known: {', '.join(known)})",
            field="ruleset",
            rule="bundled rulesets",
            value=name,
        )
    if version is None:
        return candidates[max(candidates, key=_version_key)]
    try:
        return candidates[version]
    except KeyError as exc:
        raise InvalidInput(
            f"ruleset {name!r} has no version {version!r} (has {sorted(candidates)})",
            field="ruleset.version",
            rule="bundled rulesets",
            value=version,
        ) from exc
