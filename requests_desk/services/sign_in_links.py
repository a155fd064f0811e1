"""Single-use, expiring sign-in links to set one's own password (new users, resets).

The link is signed (itsdangerous) over the user's id, security version and a fingerprint
of the current password hash: setting the password (its one use), a 2FA reset or a
deactivation changes one of them, so the link stops working; it also expires."""
from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from ..models import User

SALT = "requests-desk.set-password"


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make(secret_key: str, user: User) -> str:
    return URLSafeTimedSerializer(secret_key, salt=SALT).dumps(
        {"u": user.id, "v": user.security_version, "p": _fingerprint(user)})


def resolve(session: Session, secret_key: str, token: str, max_age_seconds: int) -> User | None:
    try:
        data = URLSafeTimedSerializer(secret_key, salt=SALT).loads(token, max_age=max_age_seconds)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = session.get(User, data["u"])
    if user is None or not user.active or data.get("v") != user.security_version \
            or data.get("p") != _fingerprint(user):
        return None
    return user
