"""The requester portal's pages: the requester's own demands, one demand, a new
submission, withdrawing an open one. Every read starts from
``services.requester_demands.own_demands``: another requester's demand is a 404.

A requester reads its demand's reference, status, due date and outcome and what it
submitted; never a customer, a notice, a scope or a staff note."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from ..db import utcnow
from ..db_session import get_session
from ..errors import ValidationError
from ..rules import shown_data_sets
from ..services.requester_accounts import require_active
from ..services.requester_demands import own_demand, own_demand_page, submit_demand
from ..staff.errormap import ListMap, friendly, place_errors
from ..staff.intake import ITEM_FIELDS, handle_row_buttons, prepare
from ..staff.uploads import discard, store_uploads
from ..workflow import apply_action
from . import forms
from .blueprint import bp

PER_PAGE = 50


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


@bp.get("/")
def index():
    session = get_session()
    page = _page()
    rows, total = own_demand_page(session, g.user, page, PER_PAGE)
    account = require_active(session, g.user)
    return render_template("requests/index.html", rows=rows, total=total, page=page, per_page=PER_PAGE,
                           account=account)


def _place(form: forms.SubmitForm, errors: dict, target_rows: list[int], item_rows: list[int]):
    lists = {
        "targets": ListMap(form.targets, target_rows, title="Account"),
        "requested": ListMap(form.requested, item_rows, ITEM_FIELDS, title="Requested item"),
    }
    errors = dict(errors)
    whole = {key: errors.pop(key) for key in ("targets", "requested") if key in errors}
    placed = place_errors(errors, forms.error_fields(form), lists)
    for key, msgs in whole.items():
        placed.rows[key] = [friendly(m) for m in msgs]
        placed.count += len(msgs)
    return placed


@bp.route("/new", methods=["GET", "POST"])
def new_demand():
    session = get_session()
    account = require_active(session, g.user)
    form = forms.SubmitForm()
    if request.method == "GET":
        form.country.data = account.agency.country
    context = prepare(form)
    placed, status = None, 200
    if request.method == "POST":
        if handle_row_buttons(form):
            return render_template("requests/new.html", form=form, placed=None, **prepare(form))
        body, target_rows, item_rows = forms.submission(form)
        uploads = [f for f in request.files.getlist(form.documents.name) if f and f.filename]
        stored: list = []
        try:
            demand = submit_demand(session, g.user, body)
            stored = store_uploads(session, g.user, demand, uploads, permission="demand.submit")
            session.commit()
        except ValidationError as err:
            session.rollback()
            discard(stored)
            placed = _place(form, err.errors, target_rows, item_rows)
            if uploads and "documents" not in err.errors:
                form.documents.errors = list(form.documents.errors or []) + [
                    "Nothing was sent: please attach the PDF again."]
            status = 422
        else:
            flash(f"Submitted {demand.reference}. Quote this reference in any message about it.", "success")
            return redirect(url_for("requests.demand", demand_id=demand.id))
    return render_template("requests/new.html", form=form, placed=placed, **context), status


@bp.get("/demands/<demand_id>")
def demand(demand_id):
    session = get_session()
    found = own_demand(session, g.user, demand_id)
    labels = {code: ds.label or code for code, ds in shown_data_sets(session).items()}
    return render_template("requests/demand.html", d=found, form=forms.ConfirmForm(), now=utcnow(),
                           data_set_labels=labels)


@bp.post("/demands/<demand_id>/withdraw")
def withdraw(demand_id):
    """The workflow's own ``withdraw`` (same rule, audit event and notices as staff's),
    allowed to a requester for its own demand only."""
    session = get_session()
    found = own_demand(session, g.user, demand_id, for_update=True)
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        raise ValidationError({"": ["the form expired; open the demand again"]})
    apply_action(session, g.user, found, "withdraw", {"note": "withdrawn by the requester on the requester portal"})
    session.commit()
    flash(f"Withdrew {found.reference}.", "success")
    return redirect(url_for("requests.demand", demand_id=found.id))
