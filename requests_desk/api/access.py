"""API: break-glass (SPEC §7). ``POST /api/v1/demands/{id}/access {"reason"}`` grants
the caller the demand's files for ``DESK_BREAK_GLASS_HOURS``; 201 with the grant.

The guard has answered 401 (token) and 404 (demand) and checked the role table (403);
a demand in a compartment the caller is not in is a 404 here too (need to know)."""
from __future__ import annotations

from flask import current_app, g, jsonify

from .. import access
from ..db import iso, utcnow
from ..db_session import get_session
from ..errors import NotFound, ValidationError
from ..services import file_access
from .blueprint import bp, json_body


@bp.post("/demands/<demand_id>/access")
def break_glass(demand_id):
    if not access.may_see(g.user, g.demand.process_type):
        raise NotFound(f"There is no demand {demand_id}.")
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError({"": ["the body must be a JSON object"]})
    session = get_session()
    grant = file_access.break_glass(session, g.user, g.demand, body.get("reason"), utcnow(),
                                    hours=current_app.config["DESK_BREAK_GLASS_HOURS"])
    session.commit()
    return jsonify({
        "id": grant.id,
        "demand_id": grant.demand_id,
        "user": g.user.email,
        "reason": grant.reason,
        "granted_at": iso(grant.granted_at),
        "expires_at": iso(grant.expires_at),
    }), 201
