"""Requester accounts (SPEC §9): an officer of a verified agency registers with an address
on its listed, unsuspended domain, confirms the address through a signed, expiring,
single-use link, and only then may sign in (with two-factor, as staff do).

Registering with an address that has an account answers exactly as a new registration
does (the page never tells who is registered) and e-mails the owner instead."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..db import utcnow
from ..errors import FieldErrors, Forbidden
from ..models import MailMessage, RequesterAccount, User, UserRole
from ..notices.mail_outbox import already_registered_mail, confirmation_mail
from . import parsing, passwords
from .agencies import agency_for_email

SALT = "requests-desk.confirm-requester"
# Registering again with a known address e-mails its owner at most once in this time
# (someone posting the form in a loop does not flood the owner's mailbox).
WARN_EVERY = timedelta(hours=1)
NOT_VERIFIED = ("is not on the domain of a verified agency: register with your agency's official "
                "address, or ask the provider's legal team to list your agency")


@dataclass
class Registration:
    """What a registration did: ``user`` is None when the address had an account (the
    owner was e-mailed, at most once an hour); ``mail`` is the message to send right
    after the commit (None: the owner was told within the hour already)."""

    user: User | None
    mail: MailMessage | None


def parse_registration(session: Session, data: dict) -> dict:
    errors = FieldErrors()
    name = parsing.text(errors, data, "name", "name")
    agency_name = parsing.text(errors, data, "agency", "agency")
    email = parsing.email(errors, data.get("email"), "email")
    phone = parsing.text(errors, data, "phone", "phone", required=False, max_len=parsing.MAX_SHORT) or ""
    password = data.get("password") if isinstance(data.get("password"), str) else ""
    for problem in passwords.problems(password):
        errors.add("password", problem)
    agency = None
    if email:
        agency = agency_for_email(session, email)
        if agency is None or agency.suspended:
            # A suspended domain reads as an unlisted one: the page tells nothing more.
            errors.add("email", NOT_VERIFIED)
    errors.raise_if_any()
    return {"name": name.strip(), "agency_name": agency_name.strip(), "email": email, "phone": phone.strip(),
            "password": password, "agency": agency}


def register(session: Session, data: dict, *, link_for: Callable[[User], str], hours: int,
             address: str | None = None, now: datetime | None = None) -> Registration:
    """Register a requester (role ``requester``, unconfirmed) and write the confirmation
    e-mail; or, when the address has an account, write the owner a warning instead."""
    now = now or utcnow()
    clean = parse_registration(session, data)
    existing = session.scalar(select(User).where(func.lower(User.email) == clean["email"]))
    if existing is not None:
        passwords.hash_password(clean["password"])  # the same work as a new account: timing tells nothing
        audit.record(session, None, "requester.register_existing", "user", existing.id, None,
                     {"address": address}, at=now)
        told = session.scalar(select(MailMessage.id).where(
            MailMessage.user_id == existing.id, MailMessage.kind == "already_registered",
            MailMessage.created_at > now - WARN_EVERY).limit(1))
        return Registration(None, None if told else already_registered_mail(session, existing))
    user = User(email=clean["email"], name=clean["name"], password_hash=passwords.hash_password(clean["password"]),
                created_at=now)
    user.role_rows = [UserRole(role="requester")]
    session.add(user)
    session.flush()
    account = RequesterAccount(user_id=user.id, agency_id=clean["agency"].id, agency_name=clean["agency_name"],
                               phone=clean["phone"], created_at=now)
    session.add(account)
    session.flush()
    audit.record(session, None, "requester.register", "user", user.id, None, {
        "email": user.email, "name": user.name, "agency": account.agency_name, "phone": account.phone,
        "domain": clean["agency"].domain, "address": address}, at=now)
    return Registration(user, confirmation_mail(session, user, link_for(user), hours))


# ---------------------------------------------------------------- the confirmation link


def confirmation_token(secret_key: str, user: User) -> str:
    return URLSafeTimedSerializer(secret_key, salt=SALT).dumps({"u": user.id, "v": user.security_version})


def _unconfirmed_account(session: Session, secret_key: str, token: str,
                         max_age_seconds: int) -> RequesterAccount | None:
    try:
        data = URLSafeTimedSerializer(secret_key, salt=SALT).loads(token, max_age=max_age_seconds)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    account = session.get(RequesterAccount, data["u"])
    if account is None or account.confirmed_at is not None:
        return None  # single use: a confirmed account's link no longer works
    if not account.user.active or data.get("v") != account.user.security_version:
        return None
    return account


def confirmation_valid(session: Session, secret_key: str, token: str, max_age_seconds: int) -> bool:
    """Whether the link would confirm an address now (the page before the button)."""
    return _unconfirmed_account(session, secret_key, token, max_age_seconds) is not None


def confirm(session: Session, secret_key: str, token: str, max_age_seconds: int,
            now: datetime | None = None) -> User | None:
    """Confirm the address a link was sent to; None when the link is tampered with, has
    expired, was used already, or its account is gone or deactivated."""
    account = _unconfirmed_account(session, secret_key, token, max_age_seconds)
    if account is None:
        return None
    return mark_confirmed(session, account, now)


def mark_confirmed(session: Session, account: RequesterAccount, now: datetime | None = None) -> User:
    """The address is confirmed (the link's one use; the demo's requester too), audited."""
    user = account.user
    account.confirmed_at = now or utcnow()
    session.flush()
    audit.record(session, user, "requester.confirm", "user", user.id, None, {"confirmed": True},
                 at=account.confirmed_at)
    return user


# ---------------------------------------------------------------- may this requester act?


def account_of(session: Session, user: User) -> RequesterAccount | None:
    return session.get(RequesterAccount, user.id) if user.has_role("requester") else None


def refusal(session: Session, user: User) -> str | None:
    """Why a requester may not sign in or act now (None: it may). Not a requester: None."""
    if not user.has_role("requester"):
        return None
    account = account_of(session, user)
    if account is None:
        return "This requester account has no verified agency; ask the provider's legal team."
    if account.confirmed_at is None:
        return "Confirm your e-mail address first: open the link we e-mailed you when you registered."
    if account.agency.suspended:
        return (f"Requests from {account.agency.domain} are suspended; ask the provider's legal team. "
                "You cannot sign in or submit until the suspension ends.")
    return None


def require_active(session: Session, user: User) -> RequesterAccount:
    """The account of a requester that may act now, or 403 naming why not."""
    reason = refusal(session, user) if user.has_role("requester") else "This is for requesters."
    if reason:
        raise Forbidden(reason)
    return account_of(session, user)


def verified_agency(session: Session, account_id: int | None) -> dict[str, Any] | None:
    """What staff see on a case page of a demand submitted through the portal: the
    submitting account's verified agency (name, domain, country, suspended or not)."""
    if account_id is None:
        return None
    account = session.get(RequesterAccount, account_id)
    if account is None:
        return None
    agency = account.agency
    return {"name": agency.name, "domain": agency.domain, "country": agency.country,
            "suspended": agency.suspended, "suspended_at": agency.suspended_at,
            "suspension_reason": agency.suspension_reason, "agency_as_typed": account.agency_name,
            "email": account.user.email, "confirmed_at": account.confirmed_at}
