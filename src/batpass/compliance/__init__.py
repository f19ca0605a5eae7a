"""Compliance: rules as versioned data (Regulation (EU) 2023/1542 and the footprint exchange
rules), the evaluator and its reports."""

from batpass.compliance._evaluate import CHECKS, default_rulesets, evaluate
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
    "subject_from_json",
]
