"""The desk's blueprint and its guard: signed-in staff only, answers never cached."""
from flask import Blueprint

from ..auth import guard_staff, no_store

bp = Blueprint("staff", __name__)
bp.before_request(guard_staff)
bp.after_request(no_store)
