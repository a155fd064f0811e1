"""Sign-in throttling, kept in the database (every gunicorn worker and PostgreSQL see it).

After ``ACCOUNT_LIMIT`` failed password or code attempts for one e-mail within
``WINDOW`` (since its last success), that account's sign-in is refused for ``WINDOW``
from the last failure, whatever is typed. One address gets ``ADDRESS_LIMIT`` failures
in the window across all accounts. Unknown e-mails are counted like known ones.

Registration on the requester portal is throttled per address too: ``REGISTER_LIMIT``
registrations in ``REGISTER_WINDOW`` (each one may send an e-mail to an agency's address,
so a script must not turn the desk into a mail cannon). Its rows carry no e-mail, so they
never touch an account's count."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import SignInAttempt

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
REGISTER_WINDOW = timedelta(hours=1)
REGISTER_LIMIT = 10


def _norm(email: str | None) -> str:
    return (email or "").strip().lower()[:254]


def _locked(session: Session, column, value: str, limit: int, now: datetime, *, reset: bool) -> datetime | None:
    since = now - WINDOW
    last_success = session.scalar(select(func.max(SignInAttempt.at)).where(
        column == value, SignInAttempt.success.is_(True), SignInAttempt.at > since)) if reset else None
    if last_success is not None:  # an account's success starts its count again (an address's does not)
        since = last_success
    failures = session.execute(select(func.count(), func.max(SignInAttempt.at)).where(
        column == value, SignInAttempt.success.is_(False), SignInAttempt.at > since)).one()
    if failures[0] >= limit:
        return failures[1] + WINDOW
    return None


def locked_until(session: Session, email: str | None, address: str, now: datetime | None = None) -> datetime | None:
    """When the account (or the address) may try again; None when it may now."""
    now = now or utcnow()
    times = [t for t in (_locked(session, SignInAttempt.email, _norm(email), ACCOUNT_LIMIT, now, reset=True),
                         _locked(session, SignInAttempt.address, address[:64], ADDRESS_LIMIT, now, reset=False)) if t]
    return max(times) if times else None


def note(session: Session, email: str | None, address: str, success: bool, kind: str = "password") -> None:
    session.add(SignInAttempt(email=_norm(email), address=address[:64], kind=kind, success=success, at=utcnow()))
    session.flush()


def registration_locked_until(session: Session, address: str, now: datetime | None = None) -> datetime | None:
    """When this address may register again; None when it may now."""
    now = now or utcnow()
    count, last = session.execute(select(func.count(), func.max(SignInAttempt.at)).where(
        SignInAttempt.kind == "register", SignInAttempt.address == address[:64],
        SignInAttempt.at > now - REGISTER_WINDOW)).one()
    return last + REGISTER_WINDOW if count >= REGISTER_LIMIT else None


def note_registration(session: Session, address: str) -> None:
    """A registration accepted from this address (a refused form sends nothing and
    does not count)."""
    session.add(SignInAttempt(email="", address=address[:64], kind="register", success=True, at=utcnow()))
    session.flush()
