"""Sign-in, roles, API tokens, and the guards each blueprint installs once."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired

from . import access, audit
from .db import utcnow
from .db_session import get_session
from .errors import Forbidden, Unauthorized
from .models import User
from .services import requester_accounts
from .services import session_cache
from .services import sessions as session_service
from .services import throttle
from .services import two_factor
from .services import users as user_service

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired()])


FAILED = "That e-mail and password do not match an active account."


def _fingerprint(user: User) -> str:
    """Ties a session to the password it was opened with: a new password ends old sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def load_current_user() -> None:
    """before_request: the signed-in user, if any, on ``g.user``. The cookie names a
    server-side session (services/sessions.py); a session still owing its second factor
    puts the user on ``g.pending`` instead, which no guarded page accepts."""
    g.user = g.pending = g.user_session = None
    sid = session.get("sid")
    if not sid:
        return
    db = get_session()
    config = current_app.config
    now = utcnow()
    lifetime = timedelta(hours=config["DESK_SESSION_MAX_HOURS"])
    # What this worker read of the session less than DESK_SESSION_CACHE_SECONDS ago signs
    # the reader in without SQL (services/session_cache.py); otherwise the row is read.
    entry = session_cache.recall(sid, now=now, fresh_for=timedelta(seconds=config["DESK_SESSION_CACHE_SECONDS"]),
                                 touch_every=session_service.TOUCH_EVERY)
    if entry is not None and entry.fingerprint == session.get("fp") and now - entry.created_at <= (
            lifetime if entry.stage == "full" else min(lifetime, session_service.PENDING_LIFETIME)):
        user, stage, g.user_session = session_cache.attach(db, entry), entry.stage, entry
    else:
        row = session_service.find(db, sid, idle=timedelta(minutes=config["DESK_SESSION_IDLE_MINUTES"]),
                                   lifetime=lifetime, now=now)
        if db.dirty:
            db.commit()  # touched (once a minute) or just ended
        if row is None:
            return
        user = row.user
        if not user.active or session.get("fp") != _fingerprint(user):
            return
        session_cache.remember(sid, row, _fingerprint(user), now)
        stage, g.user_session = row.stage, row
    if requester_accounts.refusal(db, user):  # a requester whose agency was suspended meanwhile
        return
    if stage == "full":
        g.user = user
    else:
        g.pending = user


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
    if user.has_role("requester"):
        return url_for("requests.index")
    return url_for("portal.index") if user.has_role("customer") else url_for("staff.home")


def address() -> str:
    return (request.remote_addr or "unknown")[:64]


def needs_second_factor(user: User) -> bool:
    if user.totp_enabled:
        return True
    # Requesters (SPEC §9) sign in with two factors as staff do.
    return (user.is_staff or user.has_role("requester")) and current_app.config["DESK_STAFF_2FA"] == "required"


def start_session(user: User, stage: str = "full") -> None:
    """A new server-side session and a new cookie (nothing carried over); the caller commits."""
    db = get_session()
    old = session.get("sid")
    if old:
        session_service.end(db, old)
    sid = session_service.open_session(db, user, stage)
    session.clear()
    session["sid"] = sid
    session["fp"] = _fingerprint(user)
    # The new session's CSRF secret now, in the cookie the sign-in sets: made by the
    # first page with a form instead, it changed the session there, and every page
    # signed the whole cookie again for a client that kept the sign-in's cookie.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    generate_csrf()


def _locked_answer(template: str, form, until: datetime, **context):
    error = f"Too many attempts. Sign-in for this account is paused; try again after {until:%H:%M} UTC."
    return render_template(template, form=form, error=error, **context), 429


def note_failure(db, email: str, kind: str, user: User | None = None) -> datetime | None:
    """Counts a failed attempt, audits it (and the lockout it starts); returns the lock's end."""
    throttle.note(db, email, address(), False, kind)
    audit.record(db, None, "auth.failure", "user", user.id if user else None, None,
                 {"email": (email or "").strip().lower()[:254], "address": address(), "kind": kind})
    until = throttle.locked_until(db, email, address())
    if until is not None:
        audit.record(db, None, "auth.lockout", "user", user.id if user else None, None,
                     {"email": (email or "").strip().lower()[:254], "address": address(), "until": until.isoformat()})
    return until


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        db = get_session()
        email = form.email.data or ""
        until = throttle.locked_until(db, email, address())
        if until is not None:
            return _locked_answer("auth/login.html", form, until)
        user = user_service.authenticate(db, email, form.password.data)
        if user is None:
            until = note_failure(db, email, "password")
            db.commit()
            if until is not None:
                return _locked_answer("auth/login.html", form, until)
            error = FAILED
        elif requester_accounts.refusal(db, user):
            # The right password of a requester who may not sign in now (unconfirmed
            # address, suspended agency): say why; nothing else changes.
            refused = requester_accounts.refusal(db, user)
            audit.record(db, user, "auth.refused", "user", user.id, None, {"address": address(), "why": refused})
            db.commit()
            return render_template("auth/login.html", form=form, error=refused), 403
        else:
            throttle.note(db, email, address(), True)
            stage = "password" if needs_second_factor(user) else "full"
            start_session(user, stage)
            audit.record(db, user, "auth.sign_in" if stage == "full" else "auth.password", "user", user.id,
                         None, {"address": address()})
            db.commit()
            target = safe_next(request.args.get("next"))
            if stage != "full":
                session["next"] = target
                return redirect(url_for("auth.code") if user.totp_enabled else url_for("account.two_factor"))
            return redirect(target or home_for(user))
    return render_template("auth/login.html", form=form, error=error), (401 if error else 200)


@bp.route("/login/code", methods=["GET", "POST"])
def code():
    """The second step for an enrolled user: a TOTP code or a recovery code."""
    user = g.pending
    if user is None or not user.totp_enabled:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        db = get_session()
        until = throttle.locked_until(db, user.email, address())
        if until is not None:
            return _locked_answer("auth/code.html", form, until)
        how = two_factor.check(db, user, form.code.data)
        if how is None:
            until = note_failure(db, user.email, "code", user)
            db.commit()
            if until is not None:
                return _locked_answer("auth/code.html", form, until)
            error = "That code is not right (or was used already). Try the next one."
        else:
            throttle.note(db, user.email, address(), True, "code")
            target = session.get("next")
            start_session(user)
            audit.record(db, user, "auth.sign_in", "user", user.id, None, {"address": address(), "second_factor": how})
            db.commit()
            return redirect(safe_next(target) or home_for(user))
    return render_template("auth/code.html", form=form, error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    db = get_session()
    session_service.end(db, session.get("sid"))
    user = g.user or g.pending
    if user is not None:
        audit.record(db, user, "auth.sign_out", "user", user.id, None, None)
    db.commit()
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
    if user is None and g.get("pending") is not None:  # the second factor is still owed
        return redirect(url_for("auth.code") if g.pending.totp_enabled else url_for("account.two_factor"))
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


def api_user(attach: bool = True) -> User:
    """The API's guard: a valid bearer token of a staff user (401, then 403).

    ``attach=False`` is for a request that reads plain rows only and never touches an
    ORM object: a token this worker remembers then signs the caller in with the
    remembered copy of its user as it is (detached, roles loaded), without opening the
    request's ORM session to merge it in."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an API token: Authorization: Bearer <token>.")
    now = utcnow()
    # As for a session: what this worker read of the token less than
    # DESK_SESSION_CACHE_SECONDS ago signs the caller in without SQL (services/session_cache.py).
    entry = session_cache.recall_token(
        user_service.token_hash(token.strip()), now=now,
        fresh_for=timedelta(seconds=current_app.config["DESK_SESSION_CACHE_SECONDS"]),
        touch_every=user_service.TOKEN_TOUCH)
    if entry is not None:
        user = session_cache.attach(get_session(), entry) if attach else entry.user
    else:
        db = get_session()
        row = user_service.live_token(db, token.strip(), now)
        user = None if row is None else row.user
        if row is not None:
            session_cache.remember_token(row, now)
        if db.dirty:
            db.commit()  # the token's last use (at most once a minute)
    if user is None:
        raise Unauthorized("The API token is not valid (unknown, expired or revoked).")
    g.user = user
    if not user.is_staff:
        raise Forbidden("Customer accounts cannot use the API.")
    return user


def no_store(response):
    """A signed-in answer (the desk, the portal, the API) is for its reader alone: no
    shared or browser cache keeps it. An answer with no Cache-Control of its own (most)
    gets the header written at once; werkzeug's cache-control object parses and writes
    it again for each directive set."""
    if any(name.lower() == "cache-control" for name, _ in response.headers):
        response.cache_control.private = True
        response.cache_control.no_store = True
    else:
        response.headers.add("Cache-Control", "private, no-store")
    return response

