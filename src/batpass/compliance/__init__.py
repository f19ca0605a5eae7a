"""Compliance: rules as versioned data (Regulation (EU) 2023/1542, the Japanese rules and the
footprint exchange rules), chosen by market (``EU`` | ``JP``), the evaluator and its reports, and
the compliance of what a node holds (a stored or fetched passport, a recycler) with the evidence
each finding was judged on."""

from batpass.compliance._evaluate import (
    CHECKS,
    DEFAULT_MARKET,
    MARKETS,
    default_rulesets,
    evaluate,
    evidence_for,
    rulesets_for,
)
from batpass.compliance._evidence import passport_subjects
from batpass.compliance._recognition import MARKET_ECOSYSTEMS, MarketRecognition
from batpass.compliance._report import render_report_html, render_report_json
from batpass.compliance._rules import Rule, Ruleset, available_rulesets, load_ruleset
from batpass.compliance._subject import subject_from_json
from batpass.compliance.model import (
    Battery,
    BatteryModel,
    Category,
    Evidence,
    Finding,
    FootprintDeclaration,
    Operator,
    RecycledShare,
    Recycler,
    Status,
)
from batpass.compliance.service import ComplianceService, Evaluation, RemotePassports

__all__ = [
    "CHECKS",
    "DEFAULT_MARKET",
    "MARKETS",
    "MARKET_ECOSYSTEMS",
    "Battery",
    "BatteryModel",
    "Category",
    "ComplianceService",
    "Evaluation",
    "Evidence",
    "Finding",
    "FootprintDeclaration",
    "MarketRecognition",
    "Operator",
    "RecycledShare",
    "Recycler",
    "RemotePassports",
    "Rule",
    "Ruleset",
    "Status",
    "available_rulesets",
    "default_rulesets",
    "evaluate",
    "evidence_for",
    "load_ruleset",
    "passport_subjects",
    "render_report_html",
    "render_report_json",
    "rulesets_for",
    "subject_from_json",
]
