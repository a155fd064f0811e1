"""API: demands, their actions, gags, deferrals, documents, notices and audit.

The guard (``blueprint.guard``) has loaded ``g.demand`` (locked for a POST) and checked
the role table; each view parses, calls one service and commits."""
from __future__ import annotations

import json

from flask import current_app, g, jsonify, request
from sqlalchemy import select

from .. import audit, workflow
from ..db import iso, utcnow
from ..db_session import get_session
from ..errors import ValidationError
from ..models import Notice
from ..rules import process_codes
from ..services import case_list, emergency_checks
from ..services import documents as document_service
from ..services import gags as gag_service
from ..services import notice_release
from ..services.case import get_demand
from ..services.intake import log_demand
from .blueprint import bp, json_body
from . import listing
from .serialize import json_and_etag, serialize


def _with_etag(body: dict):
    text, etag = json_and_etag(body)  # one encoding for both
    response = current_app.response_class(f"{text}\n", mimetype="application/json")
    response.headers["ETag"] = etag
    return response


def _fresh(demand_id: int):
    """The demand as it is after the change, with its new version: what every write
    answers with."""
    return _with_etag(serialize(get_demand(get_session(), demand_id, viewer=g.user)))


@bp.post("/demands")
def create_demand():
    session = get_session()
    demand = log_demand(session, g.user, json_body())
    session.commit()
    return _fresh(demand.id), 201


@bp.get("/demands")
def list_demands():
    session = get_session()
    filters = case_list.parse_filters(request.args, process_types=process_codes(session))
    return jsonify(listing.list_page(session, filters, g.user, utcnow()))


@bp.get("/demands/<demand_id>", endpoint="get_demand")
def get_demand_view(demand_id):
    return _with_etag(g.demand_body)  # read by the guard, from plain rows


@bp.post("/demands/<demand_id>/<action>")
def demand_action(demand_id, action):
    session = get_session()
    workflow.apply_action(session, g.user, g.demand, action, json_body(required=False))
    session.commit()
    return _fresh(g.demand.id)


@bp.post("/demands/<demand_id>/defer-notices")
def defer_notices(demand_id):
    return _change(gag_service.defer_notices)


@bp.post("/demands/<demand_id>/checks")
def record_check(demand_id):
    return _change(emergency_checks.record_check)


@bp.post("/demands/<demand_id>/checks/override")
def override_checks(demand_id):
    return _change(emergency_checks.override_checks)


@bp.post("/demands/<demand_id>/release-notices")
def release_notices(demand_id):
    session = get_session()
    notice_release.release_notices(session, g.user, g.demand, json_body(required=False))
    session.commit()
    return _fresh(g.demand.id)


@bp.post("/demands/<demand_id>/gag")
def set_gag(demand_id):
    return _change(gag_service.set_gag)


@bp.post("/demands/<demand_id>/gag/extend")
def extend_gag(demand_id):
    return _change(gag_service.extend_gag)


@bp.post("/demands/<demand_id>/gag/lift")
def lift_gag(demand_id):
    return _change(gag_service.lift_gag)


def _change(service):
    session = get_session()
    service(session, g.user, g.demand, json_body())
    session.commit()
    return _fresh(g.demand.id)


@bp.post("/demands/<demand_id>/documents")
def upload_document(demand_id):
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError({"file": ["attach the PDF as the multipart field 'file'"]})
    session = get_session()
    # ``customer_id`` (optional, counsel only): a redacted copy for that customer.
    doc = document_service.store_document(session, g.user, g.demand, upload.filename or "document.pdf",
                                          upload.stream, for_customer=request.form.get("customer_id"))
    session.commit()
    return jsonify({"id": doc.id, "name": doc.filename, "sha256": doc.sha256, "bytes": doc.bytes,
                    "for_customer_id": doc.for_customer_id}), 201


@bp.get("/demands/<demand_id>/notices")
def demand_notices(demand_id):
    rows = get_session().scalars(select(Notice).where(Notice.demand_id == g.demand.id).order_by(Notice.id))
    return jsonify([
        {
            "id": n.id,
            "customer_id": n.customer_id,
            "kind": n.kind,
            "state": n.state,
            "delayed": n.delayed,
            "sent_at": iso(n.sent_at),
            "attempts": n.attempts,
            "last_error": n.last_error,
            "next_attempt_at": iso(n.next_attempt_at),
        }
        for n in rows
    ])


@bp.get("/demands/<demand_id>/audit")
def demand_audit(demand_id):
    return jsonify([
        {
            "seq": e.seq,
            "at": iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "before": json.loads(e.before) if e.before else None,
            "after": json.loads(e.after) if e.after else None,
            "hash": e.hash,
        }
        for e in audit.events_for_demand(get_session(), g.demand.id)
    ])
