"""Registering on the requester portal (``/requests/register``) and confirming the address
(``/requests/confirm/<token>``). Open to visitors: the address's domain must be a
listed, unsuspended agency's; the answer is the same whether or not the address already
has an account (its owner is e-mailed instead)."""
from __future__ import annotations

from flask import current_app, render_template, request, url_for

from ..auth import address
from ..db_session import get_session
from ..errors import ValidationError
from ..notices.requester_mail import send_now
from ..services import requester_accounts, throttle
from ..staff.errormap import place_errors
from .blueprint import signup_bp
from .forms import ConfirmForm, RegisterForm


@signup_bp.route("/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    placed = None
    if form.validate_on_submit():
        session = get_session()
        until = throttle.registration_locked_until(session, address())
        if until is not None:
            error = f"Too many registrations from your network. Please try again after {until:%H:%M} UTC."
            return render_template("requests/register.html", form=form, placed=None, error=error), 429
        config = current_app.config
        hours = int(config["DESK_SIGN_IN_LINK_HOURS"])

        def link_for(user) -> str:
            token = requester_accounts.confirmation_token(config["SECRET_KEY"], user)
            return config["DESK_BASE_URL"].rstrip("/") + url_for("requester_signup.confirm", token=token)

        data = {name: getattr(form, name).data for name in ("name", "agency", "email", "phone", "password")}
        try:
            done = requester_accounts.register(session, data, link_for=link_for, hours=hours, address=address())
            throttle.note_registration(session, address())  # an accepted form (it may send a mail)
            session.commit()
        except ValidationError as err:
            session.rollback()
            placed = place_errors(err.errors, {k: getattr(form, k) for k in data})
        else:
            if done.mail is not None:
                send_now(current_app._get_current_object(), done.mail.id)  # else the dispatcher sends it
            return render_template("requests/registered.html", email=data["email"].strip().lower(), hours=hours)
    return render_template("requests/register.html", form=form, placed=placed), (422 if placed else 200)


@signup_bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET shows a button; POST confirms (a mail scanner that follows links confirms nothing)."""
    session = get_session()
    config = current_app.config
    max_age = int(config["DESK_SIGN_IN_LINK_HOURS"]) * 3600
    if request.method == "POST":
        user = requester_accounts.confirm(session, config["SECRET_KEY"], token, max_age)
        if user is None:
            session.rollback()
            return _gone()
        session.commit()
        return render_template("requests/confirmed.html", user=user)
    if not requester_accounts.confirmation_valid(session, config["SECRET_KEY"], token, max_age):
        return _gone()
    return render_template("requests/confirm.html", form=ConfirmForm())


def _gone():
    return render_template("error.html", status=410, title="This link no longer works",
                           detail="Confirmation links work once and expire. If your address is confirmed "
                                  "already, sign in; otherwise register again."), 410
