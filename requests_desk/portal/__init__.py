"""The customer portal (``/portal/``)."""
from flask import Blueprint

from ..auth import guard_customer

bp = Blueprint("portal", __name__)
bp.before_request(guard_customer)

from . import views  # noqa: E402,F401
