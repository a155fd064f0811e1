"""The default rule set (SPEC §1), kept as data and loaded into the rule tables.

Another jurisdiction's rules are another ``RuleSet``: ``load_rules(session, rules)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from .kept import kept
from .models import DataSet, ProcessRule
from .report_summary import rebuild
from .vocabulary import TIERS

TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}


@dataclass(frozen=True)
class ProcessRuleRow:
    code: str
    label: str
    max_tier: str | None
    discloses: bool = True
    preservation: bool = False
    due_hours: int = 14 * 24
    emergency_due_hours: int = 24
    hold_days: int | None = None
    hold_extension_days: int | None = None


@dataclass(frozen=True)
class RuleSet:
    data_sets: tuple[tuple[str, str, str], ...]
    process_types: tuple[ProcessRuleRow, ...] = field(default_factory=tuple)


DEFAULT_RULES = RuleSet(
    data_sets=(
        ("subscriber_info", "subscriber", "Subscriber information"),
        ("billing_records", "subscriber", "Billing records"),
        ("sign_in_logs", "non_content", "Sign-in logs"),
        ("message_metadata", "non_content", "Message metadata"),
        ("email_content", "content", "E-mail content"),
        ("stored_files", "content", "Stored files"),
        ("chat_messages", "content", "Chat messages"),
        ("contacts_calendar", "content", "Contacts and calendar"),
    ),
    process_types=(
        ProcessRuleRow("subpoena", "Subpoena (criminal or administrative)", "subscriber"),
        ProcessRuleRow("court_order", "Court order for records, e.g. 18 U.S.C. 2703(d)", "non_content"),
        ProcessRuleRow("search_warrant", "Search warrant", "content"),
        ProcessRuleRow("emergency", "Emergency disclosure request", "content"),
        ProcessRuleRow(
            "preservation", "Preservation request, e.g. 18 U.S.C. 2703(f)", None,
            discloses=False, preservation=True, hold_days=90, hold_extension_days=90,
        ),
        ProcessRuleRow("civil_subpoena", "Subpoena from a civil litigant", "non_content"),
        ProcessRuleRow("mlat", "Mutual legal assistance request", "content"),
        ProcessRuleRow(
            "eu_production_order", "EU e-Evidence production order (EPOC)", "content",
            due_hours=10 * 24, emergency_due_hours=8,
        ),
        ProcessRuleRow(
            "eu_preservation_order", "EU e-Evidence preservation order (EPOC-PR)", None,
            discloses=False, preservation=True, hold_days=60, hold_extension_days=30,
        ),
        ProcessRuleRow("national_security", "National security process (NSL / FISA)", None),
        ProcessRuleRow("other", "Other legal process", None),
    ),
)

# Process types whose scope is decided in review: every proposed item needs a basis.
# (Derived from the data: disclosing types without a max tier.)


def load_rules(session: Session, rules: RuleSet = DEFAULT_RULES) -> None:
    """Insert or update the rule tables from a rule set (idempotent)."""
    existing_ds = {d.code: d for d in session.scalars(select(DataSet))}
    for code, tier, label in rules.data_sets:
        row = existing_ds.get(code)
        if row is None:
            session.add(DataSet(code=code, tier=tier, label=label))
        else:
            row.tier, row.label = tier, label
    existing_pt = {p.code: p for p in session.scalars(select(ProcessRule))}
    # The report summary sorts demands into sections by this flag as they are written.
    regrouped = any(rule.code in existing_pt and existing_pt[rule.code].preservation != rule.preservation
                    for rule in rules.process_types)
    for position, rule in enumerate(rules.process_types):
        row = existing_pt.get(rule.code) or ProcessRule(code=rule.code)
        row.label = rule.label
        row.max_tier = rule.max_tier
        row.discloses = rule.discloses
        row.preservation = rule.preservation
        row.position = position
        row.due_hours = rule.due_hours
        row.emergency_due_hours = rule.emergency_due_hours
        row.hold_days = rule.hold_days
        row.hold_extension_days = rule.hold_extension_days
        session.add(row)
    session.flush()
    if regrouped:
        rebuild(session.connection())


def tier_within(tier: str, max_tier: str | None) -> bool:
    return max_tier is not None and TIER_RANK[tier] <= TIER_RANK[max_tier]


def needs_basis(rule: ProcessRule) -> bool:
    """Decided in review (no max tier yet disclosing): national_security, other."""
    return rule.discloses and rule.max_tier is None


# Built once: a reused statement keeps its cache key, so a page that reads the rules on
# every request does not key the statement again each time.
_PROCESS_RULES = select(ProcessRule).order_by(ProcessRule.position)
_DATA_SETS = select(DataSet).order_by(DataSet.code)
_RULE_ROWS = select(ProcessRule.__table__).order_by(ProcessRule.position)
_DATA_SET_ROWS = select(DataSet.__table__).order_by(DataSet.code)


def process_rules(session: Session) -> dict[str, ProcessRule]:
    """The rules as ORM objects, read in this transaction (for what decides: intake)."""
    return {p.code: p for p in session.scalars(_PROCESS_RULES)}


def data_sets(session: Session) -> dict[str, DataSet]:
    """The data sets as ORM objects, read in this transaction (for what decides: intake)."""
    return {d.code: d for d in session.scalars(_DATA_SETS)}


# What pages show (kept.py: read at most every few seconds per worker): plain rows with
# the tables' columns as attributes, in read-only mappings shared by requests.

def shown_rules(session: Session) -> Mapping[str, Row]:
    """Every process type's rule, in the table's order, as pages show them."""
    return kept(session, "process_rules", ProcessRule,
                lambda conn: MappingProxyType({r.code: r for r in conn.execute(_RULE_ROWS)}))


def shown_rule(session: Session, code: str) -> Row | None:
    """One process type's rule as the case page shows it."""
    return shown_rules(session).get(code)


def process_codes(session: Session) -> tuple[str, ...]:
    """The process types' codes in the table's order (a list filter needs no more)."""
    return tuple(shown_rules(session))


def shown_data_sets(session: Session) -> Mapping[str, Row]:
    """The data sets by code, as pages show them (labels, tiers)."""
    return kept(session, "data_sets", DataSet,
                lambda conn: MappingProxyType({d.code: d for d in conn.execute(_DATA_SET_ROWS)}))
