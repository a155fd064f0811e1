"""Sign-in, roles, API tokens, and the guards each blueprint installs once."""
from __future__ import annotations

import hashlib
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from . import access
from .db_session import get_session
from .errors import Forbidden, Unauthorized
from .models import User
from .services import users as user_service

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _fingerprint(user: User) -> str:
    """Ties a session to the password it was opened with: a new password ends old sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def load_current_user() -> None:
    """before_request (read only): the signed-in user, if any, on ``g.user``."""
    g.user = None
    uid = session.get("uid")
    if uid is None:
        return
    user = get_session().get(User, uid)
    if user is not None and user.active and session.get("fp") == _fingerprint(user):
        g.user = user


def current_user() -> User | None:
    return g.get("user")


def safe_next(target: str | None) -> str | None:
    """Only a local path: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_for(user: User) -> str:
    return url_for("portal.index") if user.has_role("customer") else url_for("staff.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = user_service.authenticate(get_session(), form.email.data, form.password.data)
        if user is None:
            error = "That e-mail and password do not match an active account."
        else:
            session.clear()  # a new session at sign-in: nothing carried over
            session["uid"] = user.id
            session["fp"] = _fingerprint(user)
            return redirect(safe_next(request.args.get("next")) or home_for(user))
    return render_template("auth/login.html", form=form, error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/")
def index():
    user = current_user()
    if user is None:
        return redirect(url_for("public.index"))
    return redirect(home_for(user))


# ---------------------------------------------------------------- guards


def guard_staff():
    """Staff blueprint guard: anonymous → login page; customers → 403."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not user.is_staff:
        raise Forbidden("This page is for the legal team.")
    return None


def guard_customer():
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not user.has_role("customer") or user.customer_id is None:
        raise Forbidden("The portal is for customers; staff use the desk.")
    return None


def requires(permission: str):
    """A view decorator for staff pages: 403 unless the role table (``access.py``) gives
    the signed-in user ``permission``."""
    access.roles_for(permission)  # an unknown permission fails at import, not at request

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            access.require(current_user(), permission)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def api_user() -> User:
    """The API's guard: a valid bearer token of a staff user (401, then 403)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an API token: Authorization: Bearer <token>.")
    user = user_service.user_for_token(get_session(), token.strip())
    if user is None:
        raise Unauthorized("The API token is not valid.")
    g.user = user
    if not user.is_staff:
        raise Forbidden("Customer accounts cannot use the API.")
    return user


def no_store(response):
    """A signed-in answer (the desk, the portal, the API) is for its reader alone: no
    shared or browser cache keeps it."""
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response

