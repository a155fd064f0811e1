"""Signing a reader in without a database round trip, when the session already says enough.

Each worker process keeps, per live session (by the SHA-256 of its id), what the
database said when it last read it: the user (a detached copy with its roles), the
session's stage and times. For ``fresh_for`` seconds (``DESK_SESSION_CACHE_SECONDS``,
default 5) a request with that cookie is signed in from this copy: merged into the
request's session with ``load=False`` (no SQL), so it is a real ``User`` to every service.
After that, or when the session is due its once-a-minute touch, the request reads the
row again (``sessions.find``) and the copy is replaced.

So a change made elsewhere (a deactivation, a new password or ``security_version``, a
2FA reset, roles, a logout in another worker or by the CLI) ends or changes a session in
this process within ``fresh_for`` seconds; one made in this process (any flush of a
``User``, ``UserRole`` or ``UserSession``, and ``sessions.end`` / ``end_all``) at once.
The idle timeout and the lifetime are checked against the copy's times on every request.

API tokens are kept the same way, by the SHA-256 the database stores: a token revoked or
its user changed elsewhere stops working within ``fresh_for`` seconds, in this process
at once (``users.revoke_tokens`` forgets the user's); its expiry is checked on every
request, and its row is read again when its last use is due to be noted (once a minute).
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from ..models import ApiToken, User, UserRole, UserSession

LIMIT = 10_000  # sessions remembered per process; beyond it the oldest are dropped


@dataclass(frozen=True)
class Remembered:
    user: User  # detached, never attached to a session: merged into each request's
    user_id: int
    stage: str
    created_at: datetime
    last_seen_at: datetime
    read_at: datetime
    fingerprint: str  # of the password hash the session was opened with (auth._fingerprint)


_lock = threading.Lock()
_by_hash: dict[str, Remembered] = {}


def sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def recall(sid: str, *, now: datetime, fresh_for: timedelta, touch_every: timedelta) -> Remembered | None:
    """The remembered session, if read less than ``fresh_for`` ago and not yet due its
    touch (so idle and lifetime checks only need its own times)."""
    if fresh_for <= timedelta(0):
        return None
    entry = _by_hash.get(sid_hash(sid))
    if entry is None or now - entry.read_at > fresh_for or now - entry.last_seen_at >= touch_every:
        return None
    return entry


def _detached_copy(user: User) -> User:
    """A copy of ``user`` (roles and customer included) attached to no session."""
    user.role_rows, user.customer  # loaded now, so that the copy carries them
    scratch = Session()  # no bind: merge(load=False) copies loaded state and runs no SQL
    try:
        copy = scratch.merge(user, load=False)
        scratch.expunge_all()
    finally:
        scratch.close()
    return copy


def remember(sid: str, row: UserSession, fingerprint: str, now: datetime) -> None:
    """Keep a detached copy of ``row``'s user (roles and customer included)."""
    entry = Remembered(_detached_copy(row.user), row.user_id, row.stage, row.created_at, row.last_seen_at, now,
                       fingerprint)
    with _lock:
        if len(_by_hash) >= LIMIT:
            for key in sorted(_by_hash, key=lambda k: _by_hash[k].read_at)[:LIMIT // 10]:
                _by_hash.pop(key, None)
        _by_hash[sid_hash(sid)] = entry


# ---------------------------------------------------------------- API tokens, the same way


@dataclass(frozen=True)
class RememberedToken:
    user: User  # detached, as above
    user_id: int
    expires_at: datetime | None
    last_used_at: datetime | None
    read_at: datetime


_by_token: dict[str, RememberedToken] = {}


def recall_token(token_hash: str, *, now: datetime, fresh_for: timedelta,
                 touch_every: timedelta) -> RememberedToken | None:
    """The remembered live token, if read less than ``fresh_for`` ago, not expired and
    not yet due its note of last use (which needs its row)."""
    if fresh_for <= timedelta(0):
        return None
    entry = _by_token.get(token_hash)
    if (entry is None or now - entry.read_at > fresh_for or entry.last_used_at is None
            or now - entry.last_used_at >= touch_every
            or (entry.expires_at is not None and entry.expires_at <= now)):
        return None
    return entry


def remember_token(row: ApiToken, now: datetime) -> None:
    """Keep what a live token's row said (its user copied, detached)."""
    entry = RememberedToken(_detached_copy(row.user), row.user_id, row.expires_at, row.last_used_at, now)
    with _lock:
        if len(_by_token) >= LIMIT:
            for key in sorted(_by_token, key=lambda k: _by_token[k].read_at)[:LIMIT // 10]:
                _by_token.pop(key, None)
        _by_token[row.token_hash] = entry


def attach(db: Session, entry: Remembered | RememberedToken) -> User:
    """The remembered user as a persistent object of the request's session, without SQL."""
    return db.merge(entry.user, load=False)


def forget(hashed: str) -> None:
    with _lock:
        _by_hash.pop(hashed, None)


def forget_user(user_id: int) -> None:
    """Read the user's sessions and tokens again (a change to the user, its roles, or a
    revocation of its tokens)."""
    with _lock:
        for key in [k for k, e in _by_hash.items() if e.user_id == user_id]:
            _by_hash.pop(key, None)
        for key in [k for k, e in _by_token.items() if e.user_id == user_id]:
            _by_token.pop(key, None)


@event.listens_for(Session, "after_flush")
def _forget_what_changed(session: Session, _context) -> None:
    """Any session of this process that writes a user, its roles or a sign-in session
    makes this process read them again on the next request."""
    if not _by_hash and not _by_token:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, User):
            forget_user(obj.id)
        elif isinstance(obj, UserRole):
            forget_user(obj.user_id)
        elif isinstance(obj, UserSession):
            forget(obj.sid_hash)
        elif isinstance(obj, ApiToken) and _token_changed(obj):
            with _lock:
                _by_token.pop(obj.token_hash, None)


def _token_changed(token: ApiToken) -> bool:
    """Revoked, deleted or its expiry changed: anything but the note of its last use."""
    state = inspect(token)
    return state.deleted or state.was_deleted or any(
        state.attrs[name].history.has_changes() for name in ("revoked_at", "expires_at", "user_id"))
