"""Emergency verification on the desk (SPEC §9): what the case page's checks section
posts (a check, counsel's override) and counsel's list of fraud flags (``/desk/flags``)
with the form lifting one. Each view loads what it changes, calls the service and
commits once; a refusal rolls back and shows the page again with the reason, input kept."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import access
from ..db_session import get_session
from ..errors import DeskError, NotFound
from ..models import Demand, User, parse_id
from ..services import emergency_checks, fraud_flags
from ..vocabulary import EMERGENCY_CHECKS
from . import forms
from .blueprint import bp
from .check_panel import OVERRIDE, check_key
from .errormap import friendly
from .views import check_page_version, done_on_case, load_demand, refused_on_case


@bp.post("/demands/<int:demand_id>/checks")
def record_check(demand_id: int):
    demand = load_demand(demand_id, for_update=True)
    session = get_session()
    code = request.form.get("check", "")
    form = forms.CheckForm(prefix=f"check-{code if code in EMERGENCY_CHECKS else 'unknown'}")
    try:
        check_page_version(demand)
        emergency_checks.record_check(session, g.user, demand, {"check": code, "note": form.note.data})
        session.commit()
    except DeskError as err:
        form.note.errors = [friendly(m) for m in err.errors.get("note", [])]
        return refused_on_case(demand_id, "record-check", {check_key(code): form}, err)
    return done_on_case(demand_id, "record-check", "checks")


@bp.post("/demands/<int:demand_id>/checks/override")
def override_checks(demand_id: int):
    demand = load_demand(demand_id, for_update=True)
    session = get_session()
    form = forms.ReasonForm(prefix="override")
    try:
        check_page_version(demand)
        emergency_checks.override_checks(session, g.user, demand, {"reason": form.reason.data})
        session.commit()
    except DeskError as err:
        form.reason.errors = [friendly(m) for m in err.errors.get("reason", [])]
        return refused_on_case(demand_id, "override-checks", {OVERRIDE: form}, err)
    return done_on_case(demand_id, "override-checks", "checks")


# ---------------------------------------------------------------- the list of flags


def _flags_page(lift_forms: dict | None = None, error: DeskError | None = None, status: int = 200):
    session = get_session()
    flags = fraud_flags.list_flags(session)
    ids = {i for f in flags for i in (f.flagged_by_id, f.lifted_by_id) if i}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids or {0})))}
    demand_ids = {f.demand_id for f in flags if f.demand_id}
    visible = access.hidden_process_types(g.user)
    demands = {d.id: d for d in session.scalars(select(Demand).where(Demand.id.in_(demand_ids or {0})))
               if d.process_type not in visible}  # need to know: a hidden demand is not named
    may_lift = access.may(g.user, "flag.lift")
    lift_forms = lift_forms or {}
    for f in flags:
        if f.active and may_lift and f.id not in lift_forms:
            lift_forms[f.id] = forms.ReasonForm(prefix=f"lift-{f.id}", formdata=None)
    return render_template("staff/flags.html", flags=flags, users=users, demands=demands, lift_forms=lift_forms,
                           error=error), status


@bp.get("/flags")
def flags():
    return _flags_page()


@bp.post("/flags/<flag_id>/lift")
def lift_flag(flag_id: str):
    number = parse_id(flag_id)
    if number is None:
        raise NotFound(f"There is no flag {flag_id}.")
    session = get_session()
    form = forms.ReasonForm(prefix=f"lift-{number}")
    try:
        flag = fraud_flags.lift_flag(session, g.user, number, {"reason": form.reason.data})
        session.commit()
    except DeskError as err:
        session.rollback()
        if err.status == 404:
            raise
        form.reason.errors = [friendly(m) for m in err.errors.get("reason", [])]
        return _flags_page({number: form}, err, err.status)
    flash(f"Flag on {flag.value} lifted: later demands from it no longer need all four checks "
          "(unless another flag covers them).", "success")
    return redirect(url_for("staff.flags"))
