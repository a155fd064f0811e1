"""API: its own description, the OpenAPI 3.1 document (no sign-in: ``PUBLIC_ENDPOINTS``)."""
from __future__ import annotations

from flask import jsonify

from .blueprint import bp
from .schema import openapi_document


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
