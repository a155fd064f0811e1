"""Sending the requester e-mails of ``mail_outbox`` (address confirmations, a demand's
status): called from each dispatcher run, and by the register page right after its
commit so the new requester need not wait for the next run.

Each message is sent in its own transaction holding its row's lock (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) while it is handed to SMTP, and
marked sent before the lock is let go: two senders racing never send it twice. A failed
attempt is recorded and retried later, backing off, as notices are; after the last
attempt it is given up (``failed_at``)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..db import utcnow
from ..models import MailMessage
from .mailer import DeliveryError, FileMailer, SmtpMailer, mailer_from_config
from .outbox import BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS, MAX_ATTEMPTS, backoff_seconds

log = logging.getLogger(__name__)
BATCH = 50


@dataclass
class MailCounts:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def compose(message: MailMessage, *, mail_from: str, base_url: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at)
    portal = f"{base_url.rstrip('/')}/requests/"
    email.set_content(f"{message.body}\nRequester portal: {portal}\n")
    return email


def _begin(sessions: sessionmaker[Session]) -> Session:
    session = sessions()
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")
    return session


def due_ids(sessions: sessionmaker[Session], now: datetime, limit: int = BATCH) -> list[int]:
    with sessions() as session:
        return list(session.scalars(
            select(MailMessage.id)
            .where(MailMessage.sent_at.is_(None), MailMessage.failed_at.is_(None),
                   or_(MailMessage.next_attempt_at.is_(None), MailMessage.next_attempt_at <= now))
            .order_by(MailMessage.id).limit(limit)))


def send_one(sessions: sessionmaker[Session], mailer: SmtpMailer | FileMailer, message_id: int, *,
             mail_from: str, base_url: str, now: datetime | None = None, counts: MailCounts | None = None,
             max_attempts: int = MAX_ATTEMPTS, backoff_base: int = BACKOFF_BASE_SECONDS) -> bool:
    """Send one queued message if it is still due; True when it went out now."""
    now = now or utcnow()
    counts = counts if counts is not None else MailCounts()
    session = _begin(sessions)
    try:
        row = session.scalar(select(MailMessage).where(MailMessage.id == message_id)
                             .with_for_update(skip_locked=True))
        if row is None or row.sent_at is not None or row.failed_at is not None:
            session.rollback()
            return False
        try:
            mailer.send(compose(row, mail_from=mail_from, base_url=base_url), [row.to_address])
        except DeliveryError as err:
            _failed(row, str(err), now, counts, max_attempts, backoff_base)
        except Exception as err:  # a bug must not block the other messages: record, retry
            log.exception("requester mail %s could not be sent", message_id)
            _failed(row, f"internal error ({type(err).__name__}); see the log", now, counts, max_attempts,
                    backoff_base)
        else:
            row.sent_at = now
            row.attempts += 1
            row.next_attempt_at = None
            row.last_error = None
            counts.sent += 1
        session.commit()
        return row.sent_at is not None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _failed(row: MailMessage, error: str, now: datetime, counts: MailCounts, max_attempts: int,
            backoff_base: int) -> None:
    row.attempts += 1
    row.last_error = error[:1000]
    if row.attempts >= max_attempts:
        row.failed_at = now
        row.next_attempt_at = None
        counts.failed += 1
        log.warning("requester mail %s given up after %s attempts: %s", row.id, row.attempts, error)
    else:
        row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts, backoff_base,
                                                                      BACKOFF_CAP_SECONDS))
        counts.retrying += 1


def send_due(sessions: sessionmaker[Session], mailer: SmtpMailer | FileMailer, *, mail_from: str, base_url: str,
             now: datetime | None = None, max_attempts: int = MAX_ATTEMPTS,
             backoff_base: int = BACKOFF_BASE_SECONDS) -> MailCounts:
    """Every due requester e-mail, one transaction each (the dispatcher's hook)."""
    now = now or utcnow()
    counts = MailCounts()
    seen: set[int] = set()
    while True:
        ids = [i for i in due_ids(sessions, now) if i not in seen]
        if not ids:
            return counts
        for message_id in ids:
            seen.add(message_id)
            send_one(sessions, mailer, message_id, mail_from=mail_from, base_url=base_url, now=now, counts=counts,
                     max_attempts=max_attempts, backoff_base=backoff_base)


def send_now(app, message_id: int) -> bool:
    """Try one message right away (the register page, after its commit); the dispatcher
    sends it later if this fails. Never raises."""
    config = app.config
    try:
        mailer = mailer_from_config(config)
        try:
            return send_one(app.extensions["desk"]["sessionmaker"], mailer, message_id,
                            mail_from=config["DESK_MAIL_FROM"], base_url=config["DESK_BASE_URL"])
        finally:
            mailer.close()
    except Exception:  # the message stays queued: the dispatcher's next run sends it
        log.exception("requester mail %s not sent at once; the dispatcher will", message_id)
        return False
