"""The JSON API (SPEC §6). Every view: api_user() (401/403 for customers), then the
loader (404), then the role (403), then the service (409/422); one commit per request."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest as HTTPBadRequest

from ..auth import api_user, no_store
from ..db import utcnow
from ..db_session import get_session
from ..errors import Forbidden, NotFound, ValidationError
from ..models import Notice, User
from ..rules import process_rules
from ..services import customers as customer_service
from ..services import demands as demand_service
from ..services import documents as document_service
from ..services import gags as gag_service
from .. import audit, workflow

bp = Blueprint("api", __name__)
bp.after_request(no_store)

STAFF_READ = ("intake", "counsel", "approver", "admin")
MAX_ID = 2**31 - 1  # ids are INTEGER columns; a larger one cannot exist (and PostgreSQL would refuse it)


def json_body(required: bool = True) -> Any:
    """The request's JSON; 400 when it is not JSON at all."""
    if not request.data and not required:
        return {}
    try:
        return request.get_json(force=True)
    except HTTPBadRequest:
        raise
    except Exception:  # pragma: no cover - werkzeug raises BadRequest itself
        raise HTTPBadRequest()


def need(user: User, *roles: str) -> None:
    if not user.has_role(*roles):
        raise Forbidden(f"Only {' or '.join(roles)} users may do this.")


def path_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise NotFound(f"{value} is not an id.") from None
    if number < 1 or number > MAX_ID:
        raise NotFound(f"There is nothing with id {value}.")
    return number


def load_demand(demand_id: str, *, for_update: bool = False):
    return demand_service.get_demand(get_session(), path_id(demand_id), for_update=for_update)


# ---------------------------------------------------------------- customers


@bp.post("/customers")
def create_customer():
    user = api_user()
    need(user, "admin")
    body = json_body()
    session = get_session()
    customer = customer_service.create_customer(session, user, body)
    session.commit()
    return jsonify(customer_service.snapshot(customer)), 201


@bp.get("/customers/<customer_id>")
def get_customer(customer_id):
    user = api_user()
    customer = customer_service.get_customer(get_session(), path_id(customer_id))
    need(user, *STAFF_READ)
    return jsonify(customer_service.snapshot(customer))


# ---------------------------------------------------------------- demands


@bp.post("/demands")
def create_demand():
    user = api_user()
    need(user, "intake", "counsel")
    body = json_body()
    session = get_session()
    demand = demand_service.log_demand(session, user, body)
    session.commit()
    return jsonify(demand_service.serialize(demand_service.get_demand(session, demand.id))), 201


@bp.get("/demands")
def list_demands():
    user = api_user()
    need(user, *STAFF_READ)
    session = get_session()
    filters = demand_service.parse_filters(request.args, process_types=process_rules(session))
    rows, total = demand_service.list_demands(session, filters)
    now = utcnow()
    return jsonify({
        "items": [demand_service.serialize(d, now) for d in rows],
        "total": total,
        "page": filters.page,
        "per_page": filters.per_page,
    })


@bp.get("/demands/<demand_id>")
def get_demand(demand_id):
    user = api_user()
    demand = load_demand(demand_id)
    need(user, *STAFF_READ)
    return jsonify(demand_service.serialize(demand))


@bp.post("/demands/<demand_id>/<action>")
def demand_action(demand_id, action):
    user = api_user()
    demand = load_demand(demand_id, for_update=True)
    if action not in workflow.ACTIONS:
        raise NotFound(f"There is no action called {action}.")
    body = json_body(required=False)
    session = get_session()
    workflow.apply_action(session, user, demand, action, body)
    session.commit()
    return jsonify(demand_service.serialize(demand_service.get_demand(session, demand.id)))


@bp.post("/demands/<demand_id>/defer-notices")
def defer_notices(demand_id):
    user = api_user()
    demand = load_demand(demand_id, for_update=True)
    need(user, "counsel")
    body = json_body()
    session = get_session()
    gag_service.defer_notices(session, user, demand, body)
    session.commit()
    return jsonify(demand_service.serialize(demand_service.get_demand(session, demand.id)))


@bp.post("/demands/<demand_id>/gag")
def set_gag(demand_id):
    return _gag_change(demand_id, gag_service.set_gag)


@bp.post("/demands/<demand_id>/gag/extend")
def extend_gag(demand_id):
    return _gag_change(demand_id, gag_service.extend_gag)


@bp.post("/demands/<demand_id>/gag/lift")
def lift_gag(demand_id):
    return _gag_change(demand_id, gag_service.lift_gag)


def _gag_change(demand_id, change):
    user = api_user()
    demand = load_demand(demand_id, for_update=True)
    need(user, "counsel")
    body = json_body()
    session = get_session()
    change(session, user, demand, body)
    session.commit()
    return jsonify(demand_service.serialize(demand_service.get_demand(session, demand.id)))


@bp.post("/demands/<demand_id>/documents")
def upload_document(demand_id):
    user = api_user()
    demand = load_demand(demand_id)
    need(user, "intake", "counsel")
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError({"file": ["attach the PDF as the multipart field 'file'"]})
    session = get_session()
    doc = document_service.store_document(session, user, demand, upload.filename or "document.pdf", upload.stream)
    session.commit()
    return jsonify({"id": doc.id, "name": doc.filename, "sha256": doc.sha256, "bytes": doc.bytes}), 201


@bp.get("/demands/<demand_id>/notices")
def demand_notices(demand_id):
    user = api_user()
    demand = load_demand(demand_id)
    need(user, *STAFF_READ)
    from sqlalchemy import select

    rows = get_session().scalars(select(Notice).where(Notice.demand_id == demand.id).order_by(Notice.id))
    return jsonify([
        {
            "id": n.id,
            "customer_id": n.customer_id,
            "kind": n.kind,
            "state": n.state,
            "delayed": n.delayed,
            "sent_at": demand_service.iso(n.sent_at),
            "attempts": n.attempts,
            "last_error": n.last_error,
            "next_attempt_at": demand_service.iso(n.next_attempt_at),
        }
        for n in rows
    ])


@bp.get("/demands/<demand_id>/audit")
def demand_audit(demand_id):
    user = api_user()
    demand = load_demand(demand_id)
    need(user, *STAFF_READ)
    import json

    return jsonify([
        {
            "seq": e.seq,
            "at": demand_service.iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "before": json.loads(e.before) if e.before else None,
            "after": json.loads(e.after) if e.after else None,
            "hash": e.hash,
        }
        for e in audit.events_for_demand(get_session(), demand.id)
    ])


from . import reports  # noqa: E402,F401  (transparency reports: POST /reports, /reports/<period>/publish)
