"""``/desk/demands/new``: the "Log a demand" form.

The form becomes the same dict the API takes and goes through
``services.demands.log_demand``; the PDFs are stored in the same transaction, so one
bad file rolls the whole demand back. Errors come back keyed like ``requested[1].to``
and are put next to the field (or row) they concern."""
from __future__ import annotations

from typing import Any

import pycountry
from flask import flash, g, redirect, render_template, request, url_for

from .. import access
from ..auth import requires
from ..db import utcnow
from ..db_session import get_session
from ..errors import ValidationError
from ..rules import data_sets, process_rules
from ..services.intake import log_demand
from ..vocabulary import TIER_TERMS
from . import forms
from .blueprint import bp
from .errormap import ListMap, friendly, place_errors
from .uploads import discard, store_uploads

ITEM_FIELDS = {"target": "target", "data_set": "data_set", "from": "date_from", "to": "date_to"}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def country_options() -> list[tuple[str, str]]:
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1])


def demand_dict(form: forms.DemandForm) -> tuple[dict, list[int], list[int]]:
    """The API's body from the form, with the positions of the rows that were sent."""
    target_rows = [i for i, e in enumerate(form.targets.entries) if not _blank(e.data)]
    item_rows = [
        i for i, e in enumerate(form.requested.entries)
        if not all(_blank(e.form[name].data) for name in ("target", "date_from", "date_to"))
    ]
    body: dict[str, Any] = {
        "requester": {
            "agency": form.requester_agency.data,
            "name": form.requester_name.data,
            "email": form.requester_email.data,
            "phone": form.requester_phone.data or None,
            "type": form.requester_type.data,
        },
        "country": (form.country.data or "").strip(),
        "process_type": form.process_type.data,
        "legal_reference": form.legal_reference.data,
        "issuing_authority": form.issuing_authority.data or None,
        "received_at": form.received_at.data,
        "channel": form.channel.data or None,
        "emergency": bool(form.emergency.data),
        "justification": form.justification.data or None,
        "due_at": form.due_at.data or None,
        "notes": form.notes.data or None,
        "targets": [form.targets.entries[i].data for i in target_rows],
        "requested": [
            {
                "target": form.requested.entries[i].form.target.data,
                "data_set": form.requested.entries[i].form.data_set.data,
                "from": form.requested.entries[i].form.date_from.data,
                "to": form.requested.entries[i].form.date_to.data,
            }
            for i in item_rows
        ],
    }
    gag_fields = (form.gag_order_ref, form.gag_issued_by, form.gag_issued_at, form.gag_expires_at)
    if form.gag_no_end.data or any(not _blank(f.data) for f in gag_fields):
        gag: dict[str, Any] = {
            "order_ref": form.gag_order_ref.data,
            "issued_by": form.gag_issued_by.data,
            "issued_at": form.gag_issued_at.data or None,
        }
        if form.gag_no_end.data:
            gag["expires_at"] = None
        elif not _blank(form.gag_expires_at.data):
            gag["expires_at"] = form.gag_expires_at.data
        body["gag"] = gag
    if not _blank(form.defer_until.data) or not _blank(form.defer_reason.data):
        body["defer_notices"] = {"until": form.defer_until.data, "reason": form.defer_reason.data}
    return body, target_rows, item_rows


def prepare(form: forms.DemandForm) -> dict:
    """Choices and the lists the template offers (the form itself holds no queries)."""
    session = get_session()
    rules = process_rules(session)
    sets = data_sets(session)
    form.process_type.choices = forms.choices((code, r.label) for code, r in rules.items()
                                              if access.may_see(g.user, code))
    for entry in form.requested.entries:
        entry.form.data_set.choices = forms.choices(
            (code, f"{ds.label or code} · {TIER_TERMS.label(ds.tier).lower()}") for code, ds in sets.items()
        )
    return {"rules": rules, "countries": country_options()}


def handle_row_buttons(form: forms.DemandForm) -> bool:
    """Without JavaScript, "Add"/"Remove" are submit buttons: change the rows, save nothing."""
    add = request.form.get("add_row")
    remove = request.form.get("remove_row")
    if add in ("targets", "requested"):
        getattr(form, add).append_entry()
        return True
    if remove:
        name = remove.rpartition("-")[0]
        fieldlist = getattr(form, name, None) if name in ("targets", "requested") else None
        if fieldlist is not None and len(fieldlist.entries) > 1:
            fieldlist.entries = [e for e in fieldlist.entries if e.name != remove]
        return True
    return False


def place(form: forms.DemandForm, errors: dict, target_rows: list[int], item_rows: list[int]):
    fields = {
        "requester": form.requester_agency,
        "requester.agency": form.requester_agency,
        "requester.name": form.requester_name,
        "requester.email": form.requester_email,
        "requester.phone": form.requester_phone,
        "requester.type": form.requester_type,
        "country": form.country,
        "process_type": form.process_type,
        "legal_reference": form.legal_reference,
        "issuing_authority": form.issuing_authority,
        "received_at": form.received_at,
        "channel": form.channel,
        "emergency": form.emergency,
        "justification": form.justification,
        "defer_notices": form.defer_until,
        "defer_notices.until": form.defer_until,
        "defer_notices.reason": form.defer_reason,
        "due_at": form.due_at,
        "notes": form.notes,
        "gag": form.gag_order_ref,
        "gag.order_ref": form.gag_order_ref,
        "gag.issued_by": form.gag_issued_by,
        "gag.issued_at": form.gag_issued_at,
        "gag.expires_at": form.gag_expires_at,
        "file": form.documents,
        "documents": form.documents,
    }
    lists = {
        "targets": ListMap(form.targets, target_rows, title="Account"),
        "requested": ListMap(form.requested, item_rows, ITEM_FIELDS, title="Requested item"),
    }
    errors = dict(errors)
    # List-wide errors ("must have at least one item") sit above the rows.
    whole = {key: errors.pop(key) for key in ("targets", "requested") if key in errors}
    placed = place_errors(errors, fields, lists)
    for key, msgs in whole.items():
        placed.rows[key] = [friendly(m) for m in msgs]
        placed.count += len(msgs)
    return placed


@bp.route("/demands/new", methods=["GET", "POST"])
@requires("demand.log")
def new_demand():
    form = forms.DemandForm()
    if request.method == "GET":
        form.received_at.data = utcnow().strftime("%Y-%m-%dT%H:%M")
    context = prepare(form)
    placed = None
    status = 200
    if request.method == "POST":
        if handle_row_buttons(form):
            context = prepare(form)
            return render_template("staff/demand_new.html", form=form, placed=None, **context)
        session = get_session()
        body, target_rows, item_rows = demand_dict(form)
        uploads = [f for f in request.files.getlist(form.documents.name) if f and f.filename]
        stored: list = []
        try:
            demand = log_demand(session, g.user, body)
            stored = store_uploads(session, g.user, demand, uploads)
            session.commit()
        except ValidationError as err:
            session.rollback()
            discard(stored)
            placed = place(form, err.errors, target_rows, item_rows)
            if uploads and "documents" not in err.errors:
                form.documents.errors = list(form.documents.errors or []) + [
                    "Nothing was saved: please attach the PDF again."
                ]
            status = 422
        else:
            flash(f"Logged {demand.reference}.", "success")
            return redirect(url_for("staff.demand", demand_id=demand.id))
    return render_template("staff/demand_new.html", form=form, placed=placed, **context), status
