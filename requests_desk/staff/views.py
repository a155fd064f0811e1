"""Staff pages: the queue, the case list and the case page (its files: ``files.py``).

Forms that change a demand live in ``intake.py`` (log a demand) and ``actions.py``
(everything on the case page); admin pages in ``admin.py``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from .. import access, workflow
from ..db import utcnow
from ..db_session import get_session
from ..api.serialize import demand_etag
from ..errors import Conflict, DeskError, FieldErrors, NotFound
from ..models import (
    Customer,
    Demand,
    PreservationHold,
    ProcessRule,
    User,
    parse_id,
)
from ..kept import kept
from ..rules import needs_basis, process_codes, shown_data_sets, shown_rule, tier_within
from ..services import case_list, fraud_flags
from ..services import queue as queue_service
from ..services.case import flags, get_demand
from ..services.keyset import COUNT_CAP
from ..services.users import counsel_choices
from ..vocabulary import ACTION_TERMS
from . import files, forms
from .blueprint import bp
from .check_panel import check_panel
from .case_read import CaseRead, read_case
from .document_panel import document_panel
from .filters import list_texts, queue_texts
from .timeline import describe

# ---------------------------------------------------------------- loaders


def load_demand(demand_id: int, *, for_update: bool = False) -> Demand:
    """The one loader for a demand on the desk: 404 when unknown."""
    if parse_id(demand_id) is None:
        raise NotFound(f"There is no demand {demand_id}.")
    return get_demand(get_session(), demand_id, viewer=g.user, for_update=for_update)


CUSTOMER_OPTIONS = select(Customer.id, Customer.name).order_by(Customer.name)


def check_page_version(demand: Demand) -> None:
    """A case-page form carries the version of the demand it was shown with (its ETag,
    as the API gives it); if the demand changed since, nothing is done and the page
    comes back with what was typed (409)."""
    seen = request.form.get("version")
    if seen and seen != demand_etag(demand):
        raise Conflict(f"{demand.reference} changed while you had the page open (someone else acted on it). "
                       "Nothing was saved; what you typed is kept below. Look at the demand again, then "
                       "submit once more.")


@bp.app_template_global()
def list_args(args: MultiDict | dict, **changes: Any) -> dict:
    """The case list's query arguments with some changed (for sort links and paging)."""
    out = {k: v for k, v in args.items() if v not in ("", None)}
    for k, v in changes.items():
        if v in (None, ""):
            out.pop(k, None)
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------- home


@bp.get("/")
def home():
    user = g.user
    scope = request.args.get("scope", "mine")
    now = utcnow()
    q = queue_service.build_queue(get_session(), user, scope=scope, now=now, acts_on=workflow.states_acted_on(user))
    queue_texts(q.lists, now)
    return render_template("staff/home.html", queue=q, count_cap=COUNT_CAP)


# ---------------------------------------------------------------- the case list


@bp.get("/demands")
def demands():
    session = get_session()
    errors: dict[str, list[str]] = {}
    queue_errors = FieldErrors()
    queue_name, scope = queue_service.parse_queue_args(request.args, queue_errors)
    errors.update(queue_errors.errors)
    filters = None
    codes = process_codes(session)
    try:
        filters = case_list.parse_filters(request.args, max_per_page=200, process_types=codes)
    except DeskError as err:
        errors.update(err.errors)
    listing = None
    if filters is not None and not errors:
        if queue_name:
            listing = queue_service.list_queue(session, filters, queue_name, scope, g.user,
                                               acts_on=workflow.states_acted_on(g.user))
        else:
            listing = case_list.list_rows(session, filters, g.user)
    customers = kept(session, "customer_options", Customer, lambda conn: tuple(conn.execute(CUSTOMER_OPTIONS)))
    hidden = access.hidden_process_types(g.user)  # the filter offers only the compartments the reader has
    f = filters or case_list.DemandFilters()
    now = utcnow()
    if listing:
        list_texts(listing.rows, now)
    return render_template(
        "staff/demands.html",
        # The arguments as a plain dict (each one's first value, as the list reads them):
        # the page asks for many that are absent, and a MultiDict raises and catches an
        # HTTP exception for each (about 50 a page).
        listing=listing, rows=listing.rows if listing else [], filters=f, errors=errors, args=request.args.to_dict(),
        process_codes=[code for code in codes if code not in hidden],
        customers=customers, now=now, count_cap=COUNT_CAP,
        queue_name=queue_name, queue_title=queue_service.QUEUE_TITLES.get(queue_name or ""), scope=scope,
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


def item_metas(session, demand: Demand, rule: ProcessRule, kind: str, sets: dict | None = None) -> list[RowMeta]:
    sets = shown_data_sets(session) if sets is None else sets
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
    active = demand.active_gag(now)
    if access.may(user, "gag.manage"):
        out.append("gag-extend" if active else "gag-set")
        if active:
            out.append("gag-lift")
    if demand.emergency and access.may(user, "notice.defer"):
        out.append("defer-notices")
    if demand.notices_released_at is None and demand.customers and access.may(user, "notice.release"):
        out.append("release-notices")
    if access.may(user, "document.upload"):
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


def blank_forms(session, demand: Demand, actions: list[str], rule: ProcessRule,
                sets: dict | None = None) -> dict[str, Any]:
    """One unsubmitted form per action shown, prefilled where that helps (``sets``: the
    data sets, when the caller has read them)."""
    none = {"formdata": None}
    out: dict[str, Any] = {}
    for action in actions:
        prefix = action
        if action in ("propose-scope", "preserve"):
            metas = item_metas(session, demand, rule, "requested", sets)
            out[action] = forms.ScopeForm(prefix=prefix, data={"items": row_defaults(
                metas, select_reachable=action == "propose-scope")}, **none)
        elif action == "record-production":
            metas = item_metas(session, demand, rule, "scope", sets)
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
        elif action in ("reject", "reject-fraudulent", "return", "gag-lift", "release-notices"):
            out[action] = forms.ReasonForm(prefix=prefix, **none)
        elif action in ("approve", "extend-preservation"):
            out[action] = forms.ConfirmForm(prefix=prefix, **none)
        elif action == "start-review":
            out[action] = forms.ReasonForm(prefix=prefix, **none)
        else:
            out[action] = forms.NoteForm(prefix=prefix, **none)
    return out


def fill_choices(form_map: dict[str, Any], counsel: list[tuple[str, str]], demand: Demand) -> None:
    """The assign form's options: ``counsel``, (e-mail, label) pairs (``counsel_choices``)."""
    form = form_map.get("assign")
    if form is not None:
        form.assignee.choices = forms.choices(counsel, blank="Choose counsel…")
        if form.assignee.data is None and demand.assignee is not None:
            form.assignee.data = demand.assignee.email


def refused_on_case(demand_id: int, action: str, submitted: dict, err: DeskError):
    """A refused case-page panel form: nothing kept, the page again with what was typed."""
    get_session().rollback()
    return render_case(demand_id, submitted=submitted, open_action=action, error=err, status=err.status)


def done_on_case(demand_id: int, action: str, anchor: str):
    """A case-page panel form that succeeded: its words, back to its panel."""
    flash(ACTION_TERMS[action].done, "success")
    return redirect(url_for("staff.demand", demand_id=demand_id, _anchor=anchor))


def render_case(demand_id: int, *, submitted: dict[str, Any] | None = None, placed: Any = None,
                open_action: str | None = None, error: DeskError | None = None, status: int = 200):
    """The case page of demand ``demand_id`` as it is in the database (a refused form
    rolls back first). ``submitted`` replaces the blank form of the action that failed."""
    if parse_id(demand_id) is None:
        raise NotFound(f"There is no demand {demand_id}.")
    session = get_session()
    now = utcnow()
    read = read_case(session, demand_id, access.hidden_process_types(g.user), now)
    if read is None:
        raise NotFound(f"There is no demand {demand_id}.")
    # The checks panel and the scope it offers ask whether the requester is flagged: the
    # read answered it (flags are listed only for a flagged one).
    with fraud_flags.read_once(session):
        if not read.demand.flagged:
            fraud_flags.known_unflagged(session, read.demand.requester.email)
        return _case_page(read, now, submitted=submitted, placed=placed, open_action=open_action, error=error,
                          status=status)


def _case_page(read: CaseRead, now: datetime, *, submitted: dict[str, Any] | None, placed: Any,
               open_action: str | None, error: DeskError | None, status: int):
    session = get_session()
    user: User = g.user
    demand = read.demand
    rule = shown_rule(session, demand.process_type)
    sets = shown_data_sets(session)
    hold = demand.hold
    users = read.users
    labels = {code: ds.label for code, ds in sets.items() if ds.label}
    customers = {n.customer_id: n.customer.name for n in read.notices}
    timeline = [describe(e, users, labels, customers) for e in read.events]

    transitions = offered_actions(user, demand, rule, hold, now)
    extras = extra_actions(user, demand, now)
    form_map = blank_forms(session, demand, transitions + extras, rule, sets)
    if submitted:
        form_map.update(submitted)
    counsel = counsel_choices(session) if "assign" in form_map else []
    fill_choices(form_map, counsel, demand)
    overdue, due_soon = flags(demand, now)
    # A refused action that is not available now (another user acted first, or the
    # role may not) is still shown, open, so what was typed is not lost.
    unavailable = None
    if open_action and open_action not in transitions + extras and open_action in form_map:
        unavailable = open_action
        if open_action in ("gag-set", "gag-extend", "gag-lift", "defer-notices", "release-notices", "upload"):
            extras.append(open_action)
        else:
            transitions.append(open_action)
    deferral = read.deferral if demand.emergency else None  # only an emergency's notices are deferred
    return render_template(
        "staff/demand.html",
        d=demand, rule=rule, sets=sets, hold=hold, notices=read.notices, assignments=read.assignments,
        due_changes=read.due_changes, timeline=list(reversed(timeline)), users=users,
        forms=form_map, transitions=transitions, extras=extras, unavailable=unavailable,
        workflow=workflow, now=now, overdue=overdue, due_soon=due_soon,
        active_gag=demand.active_gag(now), deferral=deferral if deferral and deferral.until > now else None,
        customers=demand.customers,
        portal_agency=read.agency,
        documents=document_panel(demand, user, submitted or {}),
        checks=check_panel(session, demand, user, submitted or {}),
        requested_meta=item_metas(session, demand, rule, "requested", sets),
        scope_meta=item_metas(session, demand, rule, "scope", sets),
        placed=placed, open_action=open_action, error=error, action_text=ACTION_TERMS,
        needs_reason=(demand.concerns_enterprise and not (demand.emergency or rule.preservation
                                                          or demand.process_type == "national_security")),
        action_url=action_url, file_access=files.case_access(user, demand, read.grants, now),
        version=read.version,
    ), status


def action_url(demand: Demand, action: str) -> str:
    if action.startswith("gag-"):
        return url_for("staff.gag_change", demand_id=demand.id, change=action[4:])
    if action == "defer-notices":
        return url_for("staff.defer_notices", demand_id=demand.id)
    if action == "release-notices":
        return url_for("staff.release_notices", demand_id=demand.id)
    if action == "upload":
        return url_for("staff.upload_documents", demand_id=demand.id)
    return url_for("staff.demand_action", demand_id=demand.id, action=action)


@bp.get("/demands/<int:demand_id>")
def demand(demand_id: int):
    return render_case(demand_id)
