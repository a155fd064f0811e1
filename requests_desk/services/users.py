"""Users, passwords and API tokens."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .. import audit
from ..errors import FieldErrors, NotFound, ValidationError
from ..models import ApiToken, Customer, User, UserRole
from ..vocabulary import ROLES, STAFF_ROLES
from . import parsing, passwords

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


def set_roles(session: Session, actor: User | None, user: User, roles: list[str], active: bool) -> User:
    before = snapshot(user)
    if user.has_role("customer"):
        # Only activation changes for a customer user (admins manage them too).
        if set(roles) != {"customer"}:
            raise ValidationError({"roles": ["a customer user's role cannot be changed"]})
    else:
        bad = [r for r in roles if r not in STAFF_ROLES]
        if bad or not roles:
            raise ValidationError({"roles": ["choose one or more staff roles"]})
        user.role_rows = [UserRole(role=r) for r in dict.fromkeys(roles)]
    user.active = active
    session.flush()
    audit.record(session, actor, "user.update", "user", user.id, before, snapshot(user))
    return user


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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, actor: User | None, user: User) -> str:
    """A new API token; only its SHA-256 is stored."""
    token = "rd_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token)))
    session.flush()
    audit.record(session, actor, "user.token", "user", user.id, None, {"token": "issued"})
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or not row.user.active:
        return None
    return row.user


def counsel_users(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User).join(UserRole).where(UserRole.role == "counsel", User.active.is_(True)).order_by(User.email)
        )
    )
