"""The legal team's desk (``/desk/``)."""
from flask import Blueprint

from ..auth import guard_staff, no_store

bp = Blueprint("staff", __name__)
bp.before_request(guard_staff)
bp.after_request(no_store)

from . import views  # noqa: E402,F401
from . import intake, actions, admin  # noqa: E402,F401
from . import notices  # noqa
from . import reports  # noqa: E402,F401  (transparency reports: /desk/reports)
