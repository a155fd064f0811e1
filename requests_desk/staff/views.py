"""Staff pages: the queue, the case list, the case page and document downloads.

Forms that change a demand live in ``intake.py`` (log a demand) and ``actions.py``
(everything on the case page); admin pages in ``admin.py``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, render_template, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.datastructures import MultiDict

from .. import audit, workflow
from ..db import utcnow
from ..db_session import get_session
from ..errors import DeskError, FieldErrors, NotFound
from ..models import (
    Assignment,
    Customer,
    Demand,
    Document,
    DueDateChange,
    Gag,
    Notice,
    PreservationHold,
    ProcessRule,
    ProductionFile,
    User,
)
from ..rules import data_sets as load_data_sets
from ..rules import needs_basis, process_rules, tier_within
from ..services import demands as demand_service
from ..services import queue as queue_service
from ..services.users import counsel_users
from . import bp, forms, words
from .timeline import describe, user_ids

MAX_ID = 2**31 - 1  # ids are INTEGER: PostgreSQL refuses a larger literal (500)


# ---------------------------------------------------------------- loaders


def load_demand(demand_id: int, *, for_update: bool = False) -> Demand:
    """The one loader for a demand on the desk: 404 when unknown."""
    if demand_id < 1 or demand_id > MAX_ID:
        raise NotFound(f"There is no demand {demand_id}.")
    stmt = (
        select(Demand).where(Demand.id == demand_id)
        .options(*demand_service.DEMAND_LOAD, selectinload(Demand.gags).selectinload(Gag.events))
    )
    if for_update:
        stmt = stmt.with_for_update(of=Demand)
    demand = get_session().scalar(stmt)
    if demand is None:
        raise NotFound(f"There is no demand {demand_id}.")
    return demand


def list_args(args: MultiDict, **changes: Any) -> dict:
    """The case list's query arguments with some changed (for sort links and paging)."""
    out = {k: v for k, v in args.items() if v not in ("", None)}
    for k, v in changes.items():
        if v in (None, ""):
            out.pop(k, None)
        else:
            out[k] = v
    return out


@bp.app_template_global()
def demands_url(**args: Any) -> str:
    return url_for("staff.demands", **{k: v for k, v in args.items() if v not in (None, "")})


@bp.app_template_global()
def due_soon_delta() -> timedelta:
    return demand_service.DUE_SOON


@bp.app_template_filter("customers")
def customers_filter(demand: Demand) -> list[Customer]:
    return demand_service.customers_of(demand)


@bp.app_template_filter("relative")
def relative(when: datetime | None, now: datetime | None = None) -> str:
    """"in 3 days", "5 hours ago": how a deadline reads at a glance."""
    if when is None:
        return "—"
    now = now or utcnow()
    seconds = (when - now).total_seconds()
    span = abs(seconds)
    if span < 3600:
        amount, unit = max(1, round(span / 60)), "minute"
    elif span < 48 * 3600:
        amount, unit = round(span / 3600), "hour"
    else:
        amount, unit = round(span / 86400), "day"
    text = f"{amount} {unit}{'' if amount == 1 else 's'}"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


@bp.app_template_filter("due_words")
def due_words(when: datetime | None, now: datetime | None = None) -> str:
    """"in 3 days" for a deadline ahead, "2 days overdue" for one passed."""
    text = relative(when, now)
    return text[:-4] + " overdue" if text.endswith(" ago") else text


@bp.app_template_filter("outcome")
def outcome_words(code: str | None) -> str:
    return words.outcome(code)


@bp.app_template_filter("process")
def process_name(code: str | None) -> str:
    return words.process(code)


@bp.app_template_filter("bytes")
def human_bytes(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value):,} bytes" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size:,} bytes"


@bp.app_template_filter("country_name")
def country_name(code: str | None) -> str:
    import pycountry

    found = pycountry.countries.get(alpha_2=code or "") if code else None
    return getattr(found, "common_name", None) or getattr(found, "name", None) or (code or "—")


# The case page's actions: button label, a line of help, and how it looks.
ACTION_TEXT = {
    "attempt-redirect": ("Redirect to the customer", "Record how the requester was told to obtain the data from "
                         "the customer directly.", "primary"),
    "start-review": ("Start legal review", "Counsel reviews the legal process.", "primary"),
    "requester-insists": ("Requester insists", "The requester will not go to the customer: review the demand.", ""),
    "redirected": ("Obtained from the customer", "The requester got the data from the customer; close the demand.",
                   ""),
    "reject": ("Reject", "Refuse the demand and close it. Give the reason; the customer is told.", "danger"),
    "propose-scope": ("Propose scope", "Choose what may be disclosed. Each item must lie within a requested item and "
                      "within what the process type can compel. A second person approves it.", "primary"),
    "approve": ("Approve scope", "You are the second pair of eyes: approve the proposed scope as it stands.",
                "primary"),
    "return": ("Return for changes", "Send the proposed scope back to counsel, with the reason.", ""),
    "record-production": ("Record production", "Record what was produced: items within the approved scope and the "
                          "files handed over (their SHA-256 and size).", "primary"),
    "no-data": ("No data found", "Nothing matched the approved scope; close the demand.", ""),
    "preserve": ("Preserve", "Preserve the requested data (nothing is disclosed) and close the demand with a hold.",
                 "primary"),
    "extend-preservation": ("Extend the hold", "Extend the preservation hold. This can be done once.", ""),
    "withdraw": ("Mark withdrawn", "The requester withdrew the demand; close it.", "danger"),
    "assign": ("Assign", "Give the demand to a counsel user, with the reason.", ""),
    "set-due": ("Change the due date", "Move the deadline, with the reason; the change is kept in the history.", ""),
    "gag-set": ("Record a gag order", "A non-disclosure order: while it is in force nothing about this demand "
                "reaches the customer.", ""),
    "gag-extend": ("Extend the gag", "Record a later expiry (or no end date) for the gag in force.", ""),
    "gag-lift": ("Lift the gag", "The gag no longer applies: held notices go out as delayed notices.", ""),
    "defer-notices": ("Defer customer notices", "Emergency demands only: hold the customer notices until a date.",
                      ""),
    "upload": ("Add documents", "Add legal-process PDFs to the demand.", ""),
}


@bp.app_context_processor
def inject_app() -> dict:
    """``current_app`` for base.html's "show the link if the page exists" checks."""
    return {"current_app": current_app._get_current_object()}


# ---------------------------------------------------------------- home


@bp.get("/")
def home():
    user = g.user
    scope = request.args.get("scope", "mine")
    q = queue_service.build_queue(get_session(), user, scope=scope)
    return render_template("staff/home.html", queue=q, now=utcnow())


# ---------------------------------------------------------------- the case list


@bp.get("/demands")
def demands():
    session = get_session()
    errors: dict[str, list[str]] = {}
    queue_errors = FieldErrors()
    queue_name, scope = queue_service.parse_queue_args(request.args, queue_errors)
    errors.update(queue_errors.errors)
    filters = None
    rules = process_rules(session)
    try:
        filters = demand_service.parse_filters(request.args, max_per_page=200, process_types=rules)
    except DeskError as err:
        errors.update(err.errors)
    rows: list[Demand] = []
    total = 0
    if filters is not None and not errors:
        if queue_name:
            rows, total = queue_service.list_queue(session, filters, queue_name, scope, g.user)
        else:
            rows, total = demand_service.list_demands(session, filters)
    customers = session.execute(select(Customer.id, Customer.name).order_by(Customer.name)).all()
    f = filters or demand_service.DemandFilters()
    pages = max(1, -(-total // f.per_page))
    return render_template(
        "staff/demands.html",
        rows=rows, total=total, filters=f, errors=errors, args=request.args,
        rules=rules, customers=customers, pages=pages, now=utcnow(),
        queue_name=queue_name, queue_title=queue_service.QUEUE_TITLES.get(queue_name or ""), scope=scope,
        list_args=list_args,
    ), (422 if errors else 200)


# ---------------------------------------------------------------- the case page


@dataclass
class RowMeta:
    """What the scope builder shows beside one requested (or approved) item."""

    target: str
    data_set: str
    label: str
    tier: str
    reaches: bool
    needs_basis: bool
    date_from: Any
    date_to: Any


def item_metas(session, demand: Demand, rule: ProcessRule, kind: str) -> list[RowMeta]:
    sets = load_data_sets(session)
    out = []
    for item in demand.items_of(kind):
        ds = sets.get(item.data_set)
        tier = ds.tier if ds else "content"
        out.append(RowMeta(
            target=item.target, data_set=item.data_set, label=(ds.label if ds and ds.label else item.data_set),
            tier=tier, reaches=needs_basis(rule) or tier_within(tier, rule.max_tier),
            needs_basis=needs_basis(rule), date_from=item.date_from, date_to=item.date_to,
        ))
    return out


def row_defaults(metas: list[RowMeta], *, select_reachable: bool = True) -> list[dict]:
    return [
        {"include": m.reaches if select_reachable else True, "target": m.target, "data_set": m.data_set,
         "date_from": m.date_from.isoformat(), "date_to": m.date_to.isoformat(), "basis": ""}
        for m in metas
    ]


def extra_actions(user: User, demand: Demand, now: datetime) -> list[str]:
    """The case page's actions that are not workflow transitions."""
    out = []
    counsel = user.has_role("counsel")
    active = demand_service.active_gag(demand, now)
    if counsel:
        out.append("gag-extend" if active else "gag-set")
        if active:
            out.append("gag-lift")
        if demand.emergency:
            out.append("defer-notices")
    if user.has_role("intake", "counsel"):
        out.append("upload")
    return out


def offered_actions(user: User, demand: Demand, rule: ProcessRule, hold: PreservationHold | None,
                    now: datetime) -> list[str]:
    """workflow.allowed_actions, less what the demand's process type or hold rules out
    for certain (a search warrant is never "preserved"; a hold extends once)."""
    out = []
    for action in workflow.allowed_actions(user, demand):
        if action == "preserve" and not rule.preservation:
            continue
        if action == "propose-scope" and not rule.discloses:
            continue
        if action == "extend-preservation" and (hold is None or hold.extended_at is not None
                                                or hold.ends_at <= now):
            continue
        out.append(action)
    return out


def blank_forms(session, demand: Demand, actions: list[str], rule: ProcessRule) -> dict[str, Any]:
    """One unsubmitted form per action shown, prefilled where that helps."""
    none = {"formdata": None}
    out: dict[str, Any] = {}
    for action in actions:
        prefix = action
        if action in ("propose-scope", "preserve"):
            metas = item_metas(session, demand, rule, "requested")
            out[action] = forms.ScopeForm(prefix=prefix, data={"items": row_defaults(
                metas, select_reachable=action == "propose-scope")}, **none)
        elif action == "record-production":
            metas = item_metas(session, demand, rule, "scope")
            out[action] = forms.ProductionForm(prefix=prefix, data={"items": row_defaults(metas)}, **none)
        elif action == "assign":
            form = forms.AssignForm(prefix=prefix, **none)
            out[action] = form
        elif action == "set-due":
            form = forms.DueForm(prefix=prefix, **none)
            form.due_at.data = demand.due_at.strftime("%Y-%m-%dT%H:%M")
            out[action] = form
        elif action == "gag-set":
            out[action] = forms.GagForm(prefix=prefix, **none)
        elif action == "gag-extend":
            out[action] = forms.GagExtendForm(prefix=prefix, **none)
        elif action == "defer-notices":
            out[action] = forms.DeferForm(prefix=prefix, **none)
        elif action == "upload":
            out[action] = forms.UploadForm(prefix=prefix, **none)
        elif action in ("reject", "return", "gag-lift"):
            out[action] = forms.ReasonForm(prefix=prefix, **none)
        elif action in ("approve", "extend-preservation"):
            out[action] = forms.ConfirmForm(prefix=prefix, **none)
        elif action == "start-review":
            out[action] = forms.ReasonForm(prefix=prefix, **none)
        else:
            out[action] = forms.NoteForm(prefix=prefix, **none)
    return out


def fill_choices(form_map: dict[str, Any], counsel: list[User], demand: Demand) -> None:
    form = form_map.get("assign")
    if form is not None:
        form.assignee.choices = forms.choices(((u.email, u.label) for u in counsel), blank="Choose counsel…")
        if form.assignee.data is None and demand.assignee is not None:
            form.assignee.data = demand.assignee.email


def render_case(demand: Demand, *, submitted: dict[str, Any] | None = None, placed: Any = None,
                open_action: str | None = None, error: DeskError | None = None, status: int = 200):
    """The case page. ``submitted`` replaces the blank form of the action that failed."""
    session = get_session()
    user: User = g.user
    now = utcnow()
    rule = session.get(ProcessRule, demand.process_type)
    sets = load_data_sets(session)
    hold = session.scalar(select(PreservationHold).where(PreservationHold.demand_id == demand.id))
    notices = session.scalars(
        select(Notice).where(Notice.demand_id == demand.id).options(joinedload(Notice.customer)).order_by(Notice.id)
    ).all()
    assignments = session.scalars(
        select(Assignment).where(Assignment.demand_id == demand.id).order_by(Assignment.at, Assignment.id)
    ).all()
    due_changes = session.scalars(
        select(DueDateChange).where(DueDateChange.demand_id == demand.id).order_by(DueDateChange.at, DueDateChange.id)
    ).all()
    events = audit.events_for_demand(session, demand.id)
    ids = user_ids(events)
    ids |= {a.assignee_id for a in assignments} | {a.actor_id for a in assignments if a.actor_id}
    ids |= {c.actor_id for c in due_changes if c.actor_id}
    ids |= {e.actor_id for gag in demand.gags for e in gag.events if e.actor_id}
    ids |= {i for i in (demand.created_by_id, demand.proposed_by_id, demand.approved_by_id) if i}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids or {0})))}
    labels = {code: ds.label for code, ds in sets.items() if ds.label}
    timeline = [describe(e, users, labels) for e in events]

    transitions = offered_actions(user, demand, rule, hold, now)
    extras = extra_actions(user, demand, now)
    form_map = blank_forms(session, demand, transitions + extras, rule)
    if submitted:
        form_map.update(submitted)
    counsel = counsel_users(session) if "assign" in form_map else []
    fill_choices(form_map, counsel, demand)
    overdue, due_soon = demand_service.flags(demand, now)
    # A refused action that is not available now (another user acted first, or the
    # role may not) is still shown, open, so what was typed is not lost.
    unavailable = None
    if open_action and open_action not in transitions + extras and open_action in form_map:
        unavailable = open_action
        if open_action in ("gag-set", "gag-extend", "gag-lift", "defer-notices", "upload"):
            extras.append(open_action)
        else:
            transitions.append(open_action)
    return render_template(
        "staff/demand.html",
        d=demand, rule=rule, sets=sets, hold=hold, notices=notices, assignments=assignments,
        due_changes=due_changes, timeline=list(reversed(timeline)), users=users,
        forms=form_map, transitions=transitions, extras=extras, unavailable=unavailable,
        workflow=workflow, now=now, overdue=overdue, due_soon=due_soon,
        active_gag=demand_service.active_gag(demand, now),
        customers=demand_service.customers_of(demand),
        requested_meta=item_metas(session, demand, rule, "requested"),
        scope_meta=item_metas(session, demand, rule, "scope"),
        placed=placed, open_action=open_action, error=error, action_text=ACTION_TEXT,
        needs_reason=(demand.concerns_enterprise and not (demand.emergency or rule.preservation
                                                          or demand.process_type == "national_security")),
        action_url=action_url,
    ), status


def action_url(demand: Demand, action: str) -> str:
    if action.startswith("gag-"):
        return url_for("staff.gag_change", demand_id=demand.id, change=action[4:])
    if action == "defer-notices":
        return url_for("staff.defer_notices", demand_id=demand.id)
    if action == "upload":
        return url_for("staff.upload_documents", demand_id=demand.id)
    return url_for("staff.demand_action", demand_id=demand.id, action=action)


@bp.get("/demands/<int:demand_id>")
def demand(demand_id: int):
    return render_case(load_demand(demand_id))


# ---------------------------------------------------------------- downloads


@bp.get("/documents/<int:doc_id>")
def document(doc_id: int):
    from ..services.documents import document_path

    doc = get_session().get(Document, doc_id) if doc_id <= MAX_ID else None
    if doc is None:
        raise NotFound("There is no such document.")
    path = document_path(doc)
    if not path.exists():
        raise NotFound("The stored file is missing; ask an administrator to restore it from backup.")
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=doc.filename,
                     max_age=0, etag=doc.sha256)


@bp.get("/production-files/<int:file_id>")
def production_file(file_id: int):
    from ..services.documents import upload_dir

    row = get_session().get(ProductionFile, file_id) if file_id <= MAX_ID else None
    if row is None or not row.stored_name:
        raise NotFound("No copy of this file was kept.")
    path = upload_dir() / row.stored_name
    if not path.exists():
        raise NotFound("The stored file is missing.")
    return send_file(path, mimetype="application/octet-stream", as_attachment=True, download_name=row.name,
                     max_age=0)
