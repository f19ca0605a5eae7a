"""Compliance: rules as versioned data (Regulation (EU) 2023/1542, the Japanese rules and the
footprint exchange rules), chosen by market (``EU`` | ``JP``), the evaluator and its reports."""

from batpass.compliance._evaluate import CHECKS, DEFAULT_MARKET, MARKETS, default_rulesets, evaluate, rulesets_for
from batpass.compliance._report import render_report_html, render_report_json
from batpass.compliance._rules import Rule, Ruleset, available_rulesets, load_ruleset
from batpass.compliance._subject import subject_from_json
from batpass.compliance.model import (
    Battery,
    BatteryModel,
    Category,
    Finding,
    FootprintDeclaration,
    Operator,
    RecycledShare,
    Recycler,
    Status,
)

__all__ = [
    "CHECKS",
    "DEFAULT_MARKET",
    "MARKETS",
    "Battery",
    "BatteryModel",
    "Category",
    "Finding",
    "FootprintDeclaration",
    "Operator",
    "RecycledShare",
    "Recycler",
    "Rule",
    "Ruleset",
    "Status",
    "available_rulesets",
    "default_rulesets",
    "evaluate",
    "load_ruleset",
    "render_report_html",
    "render_report_json",
    "rulesets_for",
    "subject_from_json",
]
