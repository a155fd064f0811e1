"""The JSON API's blueprint and its one guard (SPEC §6).

Every request under ``/api/v1`` passes ``guard`` before its view, in the order of
the answers the API promises: 401 (no or bad token), 404 (an id in the path that does
not exist, or an unknown action), 403 (the role table in ``access.py`` says no for this
endpoint), then the view: 409 (state) and 422 (content) from the services. A view
cannot forget the guard, and an endpoint missing from ``ENDPOINT_PERMISSIONS`` is
refused (a test checks that every route has a row, or is one of ``PUBLIC_ENDPOINTS``).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request
from werkzeug.exceptions import BadRequest as HTTPBadRequest

from .. import access
from ..auth import api_user, no_store
from ..db import utcnow
from ..db_session import get_session, plain_reads
from ..errors import Forbidden, NotFound, PreconditionFailed
from ..models import Customer, parse_id
from ..services.case import get_demand
from ..workflow import ACTIONS
from .demand_read import read_body
from .serialize import demand_etag

bp = Blueprint("api", __name__)
bp.after_request(no_store)

# endpoint → the permission it needs (access.PERMISSIONS). A workflow action's own
# roles are the workflow table's, checked by workflow.apply_action after the state.
ENDPOINT_PERMISSIONS: dict[str, str] = {
    "api.create_customer": "customer.manage",
    "api.get_customer": "customer.read",
    "api.create_demand": "demand.log",
    "api.list_demands": "desk.read",
    "api.get_demand": "desk.read",
    "api.demand_action": "desk.read",
    "api.defer_notices": "notice.defer",
    "api.record_check": "emergency.check",
    "api.override_checks": "emergency.override",
    "api.release_notices": "notice.release",
    "api.set_gag": "gag.manage",
    "api.extend_gag": "gag.manage",
    "api.lift_gag": "gag.manage",
    "api.upload_document": "document.upload",
    "api.demand_notices": "desk.read",
    "api.demand_audit": "audit.read",
    "api.break_glass": "access.break-glass",
    "api.compile_report": "report.compile",
    "api.publish_report": "report.publish",
}


# Endpoints that only read a demand's JSON: the guard reads it as plain rows (``g.demand_body``).
PLAIN_READS: frozenset[str] = frozenset({"api.get_demand"})

# Endpoints anyone may read without a token: the API's own description.
PUBLIC_ENDPOINTS: frozenset[str] = frozenset({"api.openapi"})


def path_id(value: str) -> int:
    """An id from the path (``models.parse_id``); anything else is a 404."""
    number = parse_id(value)
    if number is None:
        raise NotFound(f"There is nothing with id {value}.")
    return number


@bp.before_request
def guard() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    args = request.view_args or {}
    plain = "demand_id" in args and request.endpoint in PLAIN_READS
    user = api_user(attach=not plain)  # 401; a customer's token 403
    if plain:
        # A read of the demand's JSON alone: plain rows on a connection of its own, no
        # ORM session or objects (api/demand_read.py); the remembered user as it is.
        with plain_reads() as connection:
            g.demand_body = read_body(connection, path_id(args["demand_id"]), access.hidden_process_types(user),
                                      utcnow())
        if g.demand_body is None:
            raise NotFound(f"There is no demand {args['demand_id']}.")
    elif "demand_id" in args:  # the one loader: 404 before the role
        g.demand = get_demand(get_session(), path_id(args["demand_id"]), viewer=user,
                              for_update=request.method == "POST")
    if "customer_id" in args:
        g.customer = get_session().get(Customer, path_id(args["customer_id"]))
        if g.customer is None:
            raise NotFound(f"There is no customer {args['customer_id']}.")
    if "action" in args and args["action"] not in ACTIONS:
        raise NotFound(f"There is no action called {args['action']}.")
    permission = ENDPOINT_PERMISSIONS.get(request.endpoint or "")
    if permission is None:
        raise Forbidden("This endpoint has no entry in the role table.")
    access.require(user, permission)
    if request.method == "POST" and "demand_id" in args and request.if_match:
        check_version(g.demand)


def check_version(demand) -> None:
    """``If-Match`` with the demand's ETag from an earlier GET: 412 when the demand has
    changed since (the row is locked by now, so the answer holds until the commit)."""
    current = demand_etag(demand)
    if not request.if_match.star_tag and not request.if_match.contains_weak(current.strip('"')):
        raise PreconditionFailed(
            f"{demand.reference} changed since you read it (its ETag is now {current}); nothing was done. "
            "Read it again and decide.")


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
