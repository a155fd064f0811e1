"""Users, passwords and API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .. import audit
from ..db import utcnow
from ..errors import FieldErrors, NotFound, ValidationError
from ..models import ApiToken, Customer, User, UserRole
from ..vocabulary import ROLES, STAFF_ROLES
from . import parsing, passwords, session_cache, sessions

MIN_PASSWORD = passwords.MIN_LENGTH
# A hash to compare against when the e-mail is unknown, so timing does not tell.
_DUMMY_HASH: list[str] = []  # made on first use, not at import (scrypt costs ~0.1 s)


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(generate_password_hash("not-a-real-password"))
    return _DUMMY_HASH[0]


def snapshot(user: User) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "roles": sorted(user.roles),
        "customer_id": user.customer_id,
        "active": user.active,
    }


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def create_user(
    session: Session,
    actor: User | None,
    email: str,
    roles: list[str],
    *,
    customer_id: int | None = None,
    password: str | None = None,
    name: str = "",
) -> tuple[User, str]:
    """Create a user; returns the user and the password (generated when not given)."""
    errors = FieldErrors()
    clean_email = parsing.email(errors, email, "email")
    roles = list(dict.fromkeys(roles))
    if not roles:
        errors.add("roles", "choose at least one role")
    if "requester" in roles:
        errors.add("roles", "requesters register themselves on the requester portal (/requests/register), "
                            "with an address on a verified agency's domain")
    for role in roles:
        if role not in ROLES:
            errors.add("roles", f"{role} is not a role ({', '.join(ROLES)})")
    if "customer" in roles:
        if len(roles) > 1:
            errors.add("roles", "a customer user holds no staff role")
        if customer_id is None:
            errors.add("customer", "a customer user needs the customer organisation")
        elif session.get(Customer, customer_id) is None:
            errors.add("customer", f"there is no customer {customer_id}")
    elif customer_id is not None:
        errors.add("customer", "only customer users belong to a customer")
    if password is not None:
        for problem in passwords.problems(password):
            errors.add("password", problem)
    if clean_email and session.scalar(select(User).where(func.lower(User.email) == clean_email)):
        errors.add("email", "a user with this e-mail exists")
    errors.raise_if_any()
    password = password or generate_password()
    user = User(
        email=clean_email,
        name=name.strip(),
        password_hash=passwords.hash_password(password),
        customer_id=customer_id if "customer" in roles else None,
    )
    user.role_rows = [UserRole(role=r) for r in roles]
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id, None, snapshot(user))
    return user, password


def check_roles(user: User, roles: list[str]) -> None:
    if user.has_role("requester"):
        # An officer of an agency never becomes staff: only activation changes.
        if set(roles) != {"requester"}:
            raise ValidationError({"roles": ["a requester's role cannot be changed"]})
    elif user.has_role("customer"):
        # Only activation changes for a customer user (admins manage them too).
        if set(roles) != {"customer"}:
            raise ValidationError({"roles": ["a customer user's role cannot be changed"]})
    else:
        bad = [r for r in roles if r not in STAFF_ROLES]
        if bad or not roles:
            raise ValidationError({"roles": ["choose one or more staff roles"]})


def set_roles(session: Session, actor: User | None, user: User, roles: list[str], active: bool) -> User:
    before = snapshot(user)
    check_roles(user, roles)
    if not user.has_role("customer", "requester"):
        user.role_rows = [UserRole(role=r) for r in dict.fromkeys(roles)]
    if user.active and not active:
        user.security_version += 1
        sessions.end_all(session, user)  # deactivation ends every session at once
    user.active = active
    session.flush()
    audit.record(session, actor, "user.update", "user", user.id, before, snapshot(user))
    return user


def set_password(session: Session, actor: User | None, user: User, password: str) -> None:
    """A new password (the policy applies): every session and sign-in link of the user ends."""
    found = passwords.problems(password)
    if found:
        raise ValidationError({"password": found})
    user.password_hash = passwords.hash_password(password)
    user.security_version += 1
    sessions.end_all(session, user)
    session.flush()
    audit.record(session, actor, "user.password", "user", user.id, None, {"password": "changed"})


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    return user


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))
    if user is None:
        raise NotFound(f"There is no user {email}.")
    return user


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, actor: User | None, user: User, expires_in_days: int = 90) -> str:
    """A new API token for an active user, expiring after ``expires_in_days``; only its
    SHA-256 is stored."""
    if not user.active:
        raise ValidationError({"user": [f"{user.email} is deactivated"]})
    if expires_in_days < 1 or expires_in_days > 3650:
        raise ValidationError({"expires_in": ["must be 1 to 3650 days"]})
    token = "rd_" + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=expires_in_days)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), expires_at=expires))
    session.flush()
    audit.record(session, actor, "user.token", "user", user.id, None,
                 {"token": "issued", "expires_at": expires.isoformat()})
    return token


def revoke_tokens(session: Session, actor: User | None, user: User) -> int:
    now = utcnow()
    result = session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                             .values(revoked_at=now))
    session.flush()
    session_cache.forget_user(user.id)  # a bulk UPDATE: no object for the flush hook to see
    audit.record(session, actor, "user.tokens_revoked", "user", user.id, None, {"revoked": result.rowcount or 0})
    return result.rowcount or 0


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


TOKEN_TOUCH = timedelta(minutes=1)  # a token's last use is written at most once a minute


def user_for_token(session: Session, token: str) -> User | None:
    """The user of a live token (not expired, not revoked, user active); notes its last use."""
    row = live_token(session, token)
    return None if row is None else row.user


def live_token(session: Session, token: str, now: datetime | None = None) -> ApiToken | None:
    """A live token's row (not expired, not revoked, its user active); notes its last use
    (written at most once a minute)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    now = now or utcnow()
    if row is None or not row.user.active or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_TOUCH:
        row.last_used_at = now
    return row


def _active_counsel(*columns) -> Select:
    return select(*columns).join(UserRole).where(UserRole.role == "counsel", User.active.is_(True)).order_by(User.email)


def counsel_users(session: Session) -> list[User]:
    return list(session.scalars(_active_counsel(User)))


_COUNSEL_CHOICES = _active_counsel(User.email, User.name)  # built once: it keeps its cache key


def counsel_choices(session: Session) -> list[tuple[str, str]]:
    """``counsel_users`` as (e-mail, label) pairs, for a form's options: one statement,
    no ORM objects and so no reading of their roles."""
    return [(email, name or email) for email, name in session.execute(_COUNSEL_CHOICES)]
