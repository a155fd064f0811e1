"""Requests from outside (SPEC §9): verified agencies, requester accounts, the emergency
checks recorded on a demand, fraud flags, and the requester mail outbox.

Like ``gags``, this module imports nothing from ``demands`` or ``users`` (``demands``
imports ``EmergencyCheck`` for its annotations): it names them in strings only, so the
model modules' imports stay free of cycles, even under ``TYPE_CHECKING``."""
from __future__ import annotations

from datetime import datetime
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow
from ..vocabulary import EMERGENCY_CHECKS, FLAG_KINDS
from .base import _in


class Agency(Base):
    """A verified agency: one official e-mail domain (lower case, no leading '@'). Only an
    address on a listed domain that is not suspended may register, sign in or submit."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    suspension_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None


class RequesterAccount(Base):
    """What a user with role ``requester`` adds to its user row: the verified agency its
    e-mail domain belongs to, the agency and phone it registered with, and when it
    confirmed its address (an unconfirmed account cannot sign in)."""

    __tablename__ = "requester_accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    # The agency (unit, office) as the requester typed it at registration.
    agency_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped["User"] = relationship(lazy="joined")
    agency: Mapped[Agency] = relationship(lazy="joined")


class EmergencyCheck(Base):
    """One of the four checks of an emergency demand (``callback``, ``sender``,
    ``authority``, ``justification``): who recorded it, when, and their note."""

    __tablename__ = "emergency_checks"
    __table_args__ = (
        CheckConstraint(_in("check_code", EMERGENCY_CHECKS), name="emergency_check_code"),
        UniqueConstraint("demand_id", "check_code", name="uq_emergency_checks_demand_check"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    # ``check`` in the API; ``check_code`` here (CHECK is a reserved word in SQL).
    check_code: Mapped[str] = mapped_column(String(20))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text)

    demand: Mapped["Demand"] = relationship(back_populates="emergency_checks")
    by: Mapped["User"] = relationship(lazy="joined")


class FraudFlag(Base):
    """An e-mail address or a domain that sent a demand counsel rejected as fraudulent:
    every later demand from it shows a warning and needs all four emergency checks.
    Counsel may lift a flag (with a reason); flagging it again restores it."""

    __tablename__ = "fraud_flags"
    __table_args__ = (
        CheckConstraint(_in("kind", FLAG_KINDS), name="fraud_flag_kind"),
        UniqueConstraint("kind", "value", name="uq_fraud_flags_kind_value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    # Lower case: the whole address for ``email``, the part after '@' for ``domain``.
    value: Mapped[str] = mapped_column(String(320))
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demands.id", ondelete="SET NULL"), index=True)
    flagged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lift_reason: Mapped[str | None] = mapped_column(Text)

    demand: Mapped["Demand | None"] = relationship()

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class MailMessage(Base):
    """An e-mail to a requester (address confirmation, a status change of its demand),
    written in the transaction that makes it due and sent by the dispatcher. It never
    names a customer."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_sent_next", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demands.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
