"""The case page's emergency checks section (SPEC §9): the four checks with who did each,
when and their note; a form for each missing one (and to record one again); counsel's
override; and, on a demand from a flagged address or domain, the flags that make it
need the checks. ``checks.py`` posts the forms; a refused one comes back in
``submitted`` under ``check_key(code)`` or ``OVERRIDE`` (no actions of the actions panel)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .. import access
from ..models import Demand, EmergencyCheck, FraudFlag, User
from ..services.emergency_checks import checks_by_code, checks_required, missing_checks, scope_blocked
from ..services.fraud_flags import flags_for
from ..vocabulary import EMERGENCY_CHECK_TERMS
from . import forms

OVERRIDE = "checks:override"


def check_key(code: str) -> str:
    return f"checks:{code}"


@dataclass
class CheckRow:
    code: str
    label: str
    help: str
    done: EmergencyCheck | None
    form: Any = None  # for users who may record checks, on an open demand


@dataclass
class CheckPanel:
    shown: bool
    required: bool
    flags: list[FraudFlag] = field(default_factory=list)
    rows: list[CheckRow] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    blocked: str | None = None  # why a scope cannot be proposed yet
    override_form: Any = None


def check_panel(session: Session, demand: Demand, user: User, submitted: dict[str, Any]) -> CheckPanel:
    flags = flags_for(session, demand.requester.email)
    required = checks_required(session, demand, flagged=bool(flags))
    shown = required or bool(demand.emergency_checks) or bool(demand.checks_override_reason)
    if not shown:
        return CheckPanel(shown=False, required=False)
    may_record = demand.is_open and required and access.may(user, "emergency.check")
    done = checks_by_code(demand)
    rows = []
    for term in EMERGENCY_CHECK_TERMS:
        form = None
        if may_record:
            form = submitted.get(check_key(term.code)) or forms.CheckForm(prefix=f"check-{term.code}", formdata=None)
        rows.append(CheckRow(term.code, term.label, term.help, done.get(term.code), form))
    missing = missing_checks(demand)
    override_form = None
    if demand.is_open and required and missing and access.may(user, "emergency.override"):
        override_form = submitted.get(OVERRIDE) or forms.ReasonForm(prefix="override", formdata=None)
    return CheckPanel(shown=True, required=required, flags=flags, rows=rows, missing=missing,
                      blocked=scope_blocked(session, demand) if demand.is_open else None,
                      override_form=override_form)
