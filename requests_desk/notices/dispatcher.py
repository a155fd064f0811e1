"""The dispatcher: releases held notices, then sends due ones, at least once and never twice.

One run (``Dispatcher.run_once``):

1. **Release**: held notices that counsel has released and whose gag has ended (they
   become *delayed* notices) or whose emergency deferral has passed become pending.
2. **Claim**: in a short transaction, pick due pending notices and stamp them with a
   claim lease (``claimed_until``), committed before anything is sent. On PostgreSQL
   the rows are picked with ``SELECT … FOR UPDATE SKIP LOCKED``; on SQLite the
   transaction starts with ``BEGIN IMMEDIATE`` (the database's write lock). Another
   dispatcher skips claimed rows until the lease runs out (a crashed dispatcher's
   notices are picked up again then, with the same Message-ID: at least once).
3. **Send**, one notice per transaction: lock the notice row again, check it is still
   pending and still ours, and judge counsel's release, the gag and the deferral once
   more at this moment — a notice counsel has not released, or under an active gag,
   goes back to ``held`` and nothing goes out. The row lock (the write
   lock on SQLite) is held while the message is handed to SMTP, so a gag being set at
   the same moment waits for it: the gag and the e-mail never overlap. Success marks it
   ``sent`` with ``sent_at``; a failure leaves it pending with the error, ``attempts``
   + 1 and the next attempt backing off exponentially; after ``max_attempts`` it is
   ``failed`` (listed for staff, who can retry it). Sending and giving up are the
   audit events ``notice.sent`` and ``notice.failed`` of the notice's demand, written in
   the transaction that marks the notice (a failed attempt that will be retried is not
   an event: the notice keeps its attempts and last error).

The clock is the app's one clock; ``now`` overrides it for the run (``desk dispatch
--now``). Claim leases use the real clock, since they are about processes, not about
the domain.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..db import utcnow
from ..models import Notice
from ..services.document_marks import documents_for
from .compose import compose_email, load_notice, notice_content
from . import requester_mail
from .mailer import DeliveryError, FileMailer, SmtpMailer, mailer_from_config
from .outbox import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    MAX_ATTEMPTS,
    backoff_seconds,
    holder,
    record_notice_event,
    release_held_notices,
)

log = logging.getLogger(__name__)

LEASE_SECONDS = 300


@dataclass
class DispatchCounts:
    released: int = 0  # held notices that became due
    sent: int = 0
    held: int = 0  # sent back to held at the last moment (a gag or deferral in force)
    retrying: int = 0  # attempts that failed and were recorded for retry
    failed: int = 0  # given up after the last attempt
    skipped: int = 0  # claimed or changed by someone else meanwhile
    requester_mail: int = 0  # e-mails to requesters sent (requester_mail)

    def line(self) -> str:
        text = (f"released {self.released}, sent {self.sent}, held {self.held}, "
                f"retrying {self.retrying}, failed {self.failed}")
        return text + (f"; requester e-mails sent {self.requester_mail}" if self.requester_mail else "")

    def add(self, other: "DispatchCounts") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class MailSettings:
    mail_from: str
    base_url: str
    upload_dir: Path


class Dispatcher:
    def __init__(self, sessions: sessionmaker[Session], mailer: SmtpMailer | FileMailer,
                 settings: MailSettings, *, max_attempts: int = MAX_ATTEMPTS,
                 backoff_base: int = BACKOFF_BASE_SECONDS, backoff_cap: int = BACKOFF_CAP_SECONDS,
                 lease_seconds: int = LEASE_SECONDS, batch_size: int = 20,
                 wall_clock: Callable[[], datetime] = utcnow):
        self.sessions = sessions
        self.mailer = mailer
        self.settings = settings
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.wall_clock = wall_clock

    # ------------------------------------------------------------ transactions

    def _begin(self) -> Session:
        """A session whose transaction holds the write lock from its first statement
        on SQLite (``BEGIN IMMEDIATE``); on PostgreSQL row locks do the work."""
        session = self.sessions()
        if session.get_bind().dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        return session

    # ------------------------------------------------------------ one run

    def run_once(self, now: datetime | None = None) -> DispatchCounts:
        now = now or utcnow()
        counts = DispatchCounts()
        try:
            counts.released = self.release(now)
            while True:
                claimed = self.claim(now)
                if not claimed:
                    break
                for notice_id, lease in claimed:
                    self.deliver(notice_id, lease, now, counts)
            self.send_requester_mail(now, counts)
        finally:
            self.mailer.close()
        return counts

    def send_requester_mail(self, now: datetime, counts: DispatchCounts) -> None:
        """The hook for requester e-mails (``requester_mail``): confirmations and status
        changes, sent with the same mailer in the same run."""
        mail = requester_mail.send_due(self.sessions, self.mailer, mail_from=self.settings.mail_from,
                                       base_url=self.settings.base_url, now=now,
                                       max_attempts=self.max_attempts, backoff_base=self.backoff_base)
        counts.requester_mail += mail.sent

    def release(self, now: datetime) -> int:
        session = self._begin()
        try:
            released = release_held_notices(session, now)
            session.commit()
            return released
        finally:
            session.close()

    def claim(self, now: datetime) -> list[tuple[int, datetime]]:
        """Stamp up to ``batch_size`` due notices with our lease; committed at once."""
        wall = self.wall_clock()
        lease = wall + self.lease
        session = self._begin()
        try:
            ids = list(session.scalars(
                select(Notice.id)
                .where(
                    Notice.state == "pending",
                    or_(Notice.next_attempt_at.is_(None), Notice.next_attempt_at <= now),
                    or_(Notice.claimed_until.is_(None), Notice.claimed_until < wall),
                )
                .order_by(Notice.next_attempt_at, Notice.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ))
            if ids:
                session.execute(
                    update(Notice).where(Notice.id.in_(ids)).values(claimed_until=lease)
                    .execution_options(synchronize_session=False)
                )
            session.commit()
            return [(i, lease) for i in ids]
        finally:
            session.close()

    def deliver(self, notice_id: int, lease: datetime, now: datetime, counts: DispatchCounts) -> None:
        session = self._begin()
        try:
            locked = session.scalar(
                select(Notice.id).where(Notice.id == notice_id).with_for_update(skip_locked=True)
            )
            notice = load_notice(session, notice_id) if locked is not None else None
            if notice is None or notice.state != "pending" or notice.claimed_until != lease:
                counts.skipped += 1
                session.rollback()
                return
            # Counsel's release, the gag and the deferral are judged again now, right
            # before anything leaves.
            held_by = holder(session, notice.demand_id, now)
            if held_by is not None:
                notice.state, notice.held_by = "held", held_by
                notice.gag_held = notice.gag_held or held_by == "gag"
                notice.next_attempt_at = notice.claimed_until = None
                session.commit()
                counts.held += 1
                return
            try:
                refused = self._send(session, notice, now)
            except DeliveryError as err:
                self._record_failure(session, notice, str(err), now, counts)
            except SQLAlchemyError:
                raise
            except Exception as err:  # a bug must not block the other notices: record, retry
                log.exception("notice %s could not be sent", notice_id)
                self._record_failure(session, notice, f"internal error ({type(err).__name__}); see the log",
                                     now, counts)
            else:
                notice.state = "sent"
                notice.sent_at = now
                notice.attempts += 1
                notice.next_attempt_at = notice.claimed_until = None
                notice.last_error = (
                    "refused: " + "; ".join(f"{a} ({r})" for a, r in refused.items()) if refused else None
                )
                session.flush()
                record_notice_event(session, None, "notice.sent", notice, {"state": "pending"},
                                    {"state": "sent", "attempts": notice.attempts}, now)
                counts.sent += 1
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _send(self, session: Session, notice: Notice, now: datetime) -> dict[str, str]:
        customer = notice.customer
        recipients = [(c.name, c.email) for c in customer.contacts]
        if not recipients:
            raise DeliveryError(f"{customer.name} has no notice contacts; add one, then retry")
        content = notice_content(session, notice, now=now, base_url=self.settings.base_url)
        attachments = []
        if notice.kind == "demand":
            # Only what counsel marked for this customer (or every document, with one customer).
            for doc in documents_for(session, notice.demand, customer):
                path = self.settings.upload_dir / doc.stored_name
                try:
                    attachments.append((doc.filename, path.read_bytes()))
                except OSError:
                    raise DeliveryError(f"the document {doc.filename} (id {doc.id}) cannot be read") from None
        try:
            message = compose_email(content, message_id=notice.message_id, recipients=recipients,
                                    mail_from=self.settings.mail_from, now=now, attachments=attachments)
        except (ValueError, TypeError) as err:
            raise DeliveryError(f"the e-mail could not be composed: {err}") from None
        return self.mailer.send(message, [email for _name, email in recipients])

    def _record_failure(self, session: Session, notice: Notice, error: str, now: datetime,
                        counts: DispatchCounts) -> None:
        notice.attempts += 1
        notice.last_error = error[:1000]
        notice.claimed_until = None
        if notice.attempts >= self.max_attempts:
            notice.state = "failed"
            notice.next_attempt_at = None
            session.flush()
            record_notice_event(session, None, "notice.failed", notice, {"state": "pending"},
                                {"state": "failed", "attempts": notice.attempts, "error": notice.last_error}, now)
            counts.failed += 1
            log.warning("notice %s given up after %s attempts: %s", notice.id, notice.attempts, error)
        else:
            wait = backoff_seconds(notice.attempts, self.backoff_base, self.backoff_cap)
            notice.next_attempt_at = now + timedelta(seconds=wait)
            counts.retrying += 1
            log.info("notice %s attempt %s failed (%s); next in %s s", notice.id, notice.attempts, error, wait)


def dispatcher_for(app, **overrides) -> Dispatcher:
    """A dispatcher built from the app's configuration."""
    config = app.config
    options = {
        "max_attempts": int(config.get("DESK_NOTICE_MAX_ATTEMPTS") or MAX_ATTEMPTS),
        "backoff_base": int(config.get("DESK_NOTICE_BACKOFF_SECONDS") or BACKOFF_BASE_SECONDS),
    }
    options.update(overrides)
    return Dispatcher(
        app.extensions["desk"]["sessionmaker"],
        mailer_from_config(config),
        MailSettings(
            mail_from=config["DESK_MAIL_FROM"],
            base_url=config["DESK_BASE_URL"],
            upload_dir=Path(config["DESK_UPLOAD_DIR"]),
        ),
        **options,
    )


def dispatch(app, now: datetime | None = None, **overrides) -> DispatchCounts:
    """One dispatcher run with the app's configuration (what ``desk dispatch`` does)."""
    return dispatcher_for(app, **overrides).run_once(now)
