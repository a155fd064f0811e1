"""The requester portal's blueprints. ``bp`` (``/requests/``) has one guard: a signed-in
requester whose address is confirmed and whose agency is not suspended; staff and
customers are refused (403). ``signup_bp`` holds the two pages a visitor opens before
having an account: register, and the confirmation link."""
from flask import Blueprint, g, redirect, request, url_for

from ..auth import current_user, no_store
from ..db_session import get_session
from ..errors import Forbidden
from ..services.requester_accounts import refusal

bp = Blueprint("requests", __name__)
signup_bp = Blueprint("requester_signup", __name__)


def guard_requester():
    user = current_user()
    if user is None and g.get("pending") is not None:  # the second factor is still owed
        return redirect(url_for("auth.code") if g.pending.totp_enabled else url_for("account.two_factor"))
    if user is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not user.has_role("requester"):
        raise Forbidden("The requester portal is for officers of verified agencies; staff use the desk "
                        "and customers their portal.")
    reason = refusal(get_session(), user)
    if reason:
        raise Forbidden(reason)
    return None


bp.before_request(guard_requester)
bp.after_request(no_store)
signup_bp.after_request(no_store)
