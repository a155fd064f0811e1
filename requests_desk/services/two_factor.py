"""Two-factor sign-in (TOTP, RFC 6238, with pyotp): enrolment, codes accepted once,
ten single-use recovery codes stored hashed, and the admin's reset (audited)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import audit
from ..db import utcnow
from ..models import RecoveryCode, User
from . import sessions

ISSUER = "Requests Desk"
RECOVERY_CODES = 10


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def pending_secret(session: Session, user: User) -> str:
    """The secret being enrolled (made on first visit, kept until a code confirms it)."""
    if user.totp_enabled:
        raise ValueError("two-factor is already on")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
        session.flush()
    return user.totp_secret


def uri(user: User) -> str:
    return pyotp.TOTP(user.totp_secret or "").provisioning_uri(name=user.email, issuer_name=ISSUER)


def _totp_step(user: User, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (this one or either neighbour), or None."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6) or not user.totp_secret:
        return None
    totp = pyotp.TOTP(user.totp_secret)
    now = time.time() if now is None else now
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.at(candidate * totp.interval), code):
            return candidate
    return None


def _take_step(user: User, code: str) -> bool:
    step = _totp_step(user, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False  # wrong, or this code (or a later one) was already used: no replay
    user.totp_last_step = step
    return True


def enrol(session: Session, user: User, code: str) -> list[str] | None:
    """Confirm the pending secret with a first code; returns the recovery codes (shown once)."""
    if user.totp_enabled or not _take_step(user, code):
        return None
    user.totp_enabled = True
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(c)) for c in codes)
    session.flush()
    audit.record(session, user, "user.2fa_enrol", "user", user.id, None, {"two_factor": "on"})
    return codes


def check(session: Session, user: User, code: str) -> str | None:
    """``totp`` or ``recovery`` when ``code`` signs ``user`` in (a code is used up), else None."""
    if not user.totp_enabled:
        return None
    if _take_step(user, code):
        session.flush()
        return "totp"
    row = session.scalar(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                    RecoveryCode.code_hash == _digest(code or ""),
                                                    RecoveryCode.used_at.is_(None)))
    if row is None:
        return None
    row.used_at = utcnow()
    session.flush()
    return "recovery"


def reset(session: Session, actor: User | None, user: User) -> None:
    """Lost device: two-factor off, recovery codes gone, every session ended (audited)."""
    before = {"two_factor": "on" if user.totp_enabled else "off"}
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    user.security_version += 1
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    sessions.end_all(session, user)
    session.flush()
    audit.record(session, actor, "user.2fa_reset", "user", user.id, before, {"two_factor": "off"})
