"""The signed-in user's own account: two-factor enrolment, password change, sign out
everywhere, and the page a sign-in link opens to set one's own password."""
from __future__ import annotations

from email.message import EmailMessage

import segno
from flask import Blueprint, current_app, flash, g, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired

from . import audit
from .auth import CodeForm, address, home_for, no_store, note_failure, start_session
from .db_session import get_session
from .errors import ValidationError
from .models import User
from .notices.mailer import mailer_from_config
from .services import sessions as session_service
from .services import sign_in_links, throttle, two_factor
from .services import users as user_service

bp = Blueprint("account", __name__)
bp.after_request(no_store)


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField("New password again", validators=[DataRequired()])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField("New password again", validators=[DataRequired()])


def _qr_svg(uri: str) -> str:
    # segno draws the QR code locally as an <svg> element: no script, no remote image.
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, omitsize=False)


def two_factor_page():
    user = g.get("user") or g.get("pending")
    if user is None:
        return redirect(url_for("auth.login"))
    if user.totp_enabled:
        if g.get("user") is None:
            return redirect(url_for("auth.code"))
        return render_template("account/two_factor_on.html", user=user)
    db = get_session()
    secret = two_factor.pending_secret(db, user)
    db.commit()
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        until = throttle.locked_until(db, user.email, address())
        if until is None:
            codes = two_factor.enrol(db, user, form.code.data)
            if codes is not None:
                throttle.note(db, user.email, address(), True, "code")
                target = session.get("next")
                start_session(user)  # a new session id, now with both factors
                audit.record(db, user, "auth.sign_in", "user", user.id, None,
                             {"address": address(), "second_factor": "enrolled"})
                db.commit()
                return render_template("account/recovery_codes.html", codes=codes,
                                       next_url=target or home_for(user))
            until = note_failure(db, user.email, "code", user)
            db.commit()
        if until is not None:
            error = f"Too many attempts; try again after {until:%H:%M} UTC."
            status = 429
        else:
            error, status = "That code is not right. Type the code the app shows now.", 422
        return render_template("account/two_factor.html", form=form, uri=two_factor.uri(user),
                               secret=secret, qr=_qr_svg(two_factor.uri(user)), error=error), status
    return render_template("account/two_factor.html", form=form, uri=two_factor.uri(user), secret=secret,
                           qr=_qr_svg(two_factor.uri(user)), error=error)


bp.add_url_rule("/two-factor", endpoint="two_factor", view_func=two_factor_page, methods=["GET", "POST"])


@bp.route("/password", methods=["GET", "POST"])
def password():
    user = g.get("user")
    if user is None:
        return redirect(url_for("auth.login"))
    form = PasswordChangeForm()
    if form.validate_on_submit():
        db = get_session()
        if not user_service.authenticate(db, user.email, form.current.data):
            form.current.errors = ["is not your current password"]
        elif _set_own_password(db, user, form):
            start_session(user)  # every other session has ended; this browser stays in
            db.commit()
            flash("Your password is changed. Every other session has been signed out.", "success")
            return redirect(home_for(user))
        return render_template("account/password.html", form=form), 422
    return render_template("account/password.html", form=form)


@bp.post("/sign-out-everywhere")
def sign_out_everywhere():
    user = g.get("user")
    if user is None:
        return redirect(url_for("auth.login"))
    db = get_session()
    ended = session_service.end_all(db, user)
    audit.record(db, user, "auth.sign_out_everywhere", "user", user.id, None, {"sessions": ended})
    db.commit()
    session.clear()
    flash("Every session of your account has been signed out.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    db = get_session()
    hours = current_app.config["DESK_SIGN_IN_LINK_HOURS"]
    user = sign_in_links.resolve(db, current_app.config["SECRET_KEY"], token, hours * 3600)
    if user is None:
        return render_template("error.html", status=410, title="This link no longer works",
                               detail="Sign-in links work once and expire. Ask an admin for a new one."), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        if _set_own_password(db, user, form):
            db.commit()
            session.clear()
            flash("Your password is set. Sign in with it.", "success")
            return redirect(url_for("auth.login"))
        return render_template("account/set_password.html", form=form, user=user), 422
    return render_template("account/set_password.html", form=form, user=user)


def _set_own_password(db, user: User, form) -> bool:
    """Set the password typed twice in ``form`` (the same policy everywhere); on a refusal
    the form carries the error and nothing is changed."""
    if form.password.data != form.confirm.data:
        form.confirm.errors = ["does not match the new password"]
        return False
    try:
        user_service.set_password(db, user, user, form.password.data)
    except ValidationError as err:
        db.rollback()
        form.password.errors = err.errors.get("password", [err.detail])
        return False
    return True


def send_sign_in_link(user: User, reason: str) -> str:
    """E-mail ``user`` a link to set their own password; returns the link (for the audit, never shown)."""
    config = current_app.config
    link = config["DESK_BASE_URL"] + url_for("account.set_password",
                                             token=sign_in_links.make(config["SECRET_KEY"], user))
    message = EmailMessage()
    message["From"] = config["DESK_MAIL_FROM"]
    message["To"] = user.email
    message["Subject"] = "Requests Desk: set your password"
    message.set_content(
        f"{reason}\n\nOpen this link to set your password (it works once, for "
        f"{config['DESK_SIGN_IN_LINK_HOURS']} hours):\n\n{link}\n\n"
        "If you did not expect this message, tell your Requests Desk admin.\n")
    mailer = mailer_from_config(config)
    try:
        mailer.send(message, [user.email])
    finally:
        if hasattr(mailer, "close"):
            mailer.close()
    return link



def notify(recipients: list[str], subject: str, text: str) -> None:
    """A plain e-mail to ``recipients`` (the admins, about a role change)."""
    if not recipients:
        return
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["DESK_MAIL_FROM"]
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(text + "\n\nEvery role change is in the audit log.\n")
    mailer = mailer_from_config(config)
    try:
        mailer.send(message, recipients)
    finally:
        if hasattr(mailer, "close"):
            mailer.close()
