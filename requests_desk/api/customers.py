"""API: customers (admin writes, staff read)."""
from __future__ import annotations

from flask import g, jsonify

from ..db_session import get_session
from ..services import customers as customer_service
from .blueprint import bp, json_body


@bp.post("/customers")
def create_customer():
    session = get_session()
    customer = customer_service.create_customer(session, g.user, json_body())
    session.commit()
    return jsonify(customer_service.snapshot(customer)), 201


@bp.get("/customers/<customer_id>")
def get_customer(customer_id):
    return jsonify(customer_service.snapshot(g.customer))
