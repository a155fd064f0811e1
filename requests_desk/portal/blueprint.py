"""The customer portal's blueprint and its guard: a signed-in customer user only."""
from flask import Blueprint

from ..auth import guard_customer, no_store

bp = Blueprint("portal", __name__)
bp.before_request(guard_customer)
bp.after_request(no_store)
