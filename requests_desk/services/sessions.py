"""Server-side sign-in sessions: the cookie holds a random id, the table its SHA-256.

Ending a row ends that browser's session at once (logout); ``end_all`` ends every
session of a user (sign out everywhere, deactivation, a new password, a 2FA reset).
A staff session ends after ``idle`` without a request, and any session ``lifetime`` after sign-in.
A half-signed-in session (the password given, the second factor still owed) lasts
``PENDING_LIFETIME``: long enough to type a code or enrol an app, not a day-long foothold."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import User, UserSession
from . import session_cache

TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute
PENDING_LIFETIME = timedelta(minutes=15)  # a session owing its second factor


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def open_session(session: Session, user: User, stage: str = "full") -> str:
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(UserSession(user_id=user.id, sid_hash=_hash(sid), stage=stage, created_at=now, last_seen_at=now))
    session.flush()
    return sid


def find(session: Session, sid: str | None, *, idle: timedelta, lifetime: timedelta,
         now: datetime | None = None) -> UserSession | None:
    """The live session for ``sid``; touches it (at most once a minute). None when unknown,
    ended, idle too long or too old (and then it is ended)."""
    if not sid:
        return None
    now = now or utcnow()
    row = session.scalar(select(UserSession).where(UserSession.sid_hash == _hash(sid)))
    if row is None or row.ended_at is not None:
        return None
    idle_too_long = row.user.is_staff and now - row.last_seen_at > idle  # staff only
    if row.stage != "full":
        lifetime = min(lifetime, PENDING_LIFETIME)
    if idle_too_long or now - row.created_at > lifetime or not row.user.active:
        row.ended_at = now
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


def end(session: Session, sid: str | None) -> None:
    if sid:
        session_cache.forget(_hash(sid))
        session.execute(update(UserSession).where(UserSession.sid_hash == _hash(sid),
                                                  UserSession.ended_at.is_(None)).values(ended_at=utcnow()))


def end_all(session: Session, user: User) -> int:
    session_cache.forget_user(user.id)
    result = session.execute(update(UserSession).where(UserSession.user_id == user.id,
                                                       UserSession.ended_at.is_(None)).values(ended_at=utcnow()))
    return result.rowcount or 0
