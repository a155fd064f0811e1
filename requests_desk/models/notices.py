"""The notice outbox's rows (requests_desk/notices/)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow
from ..vocabulary import NOTICE_KINDS, NOTICE_STATES
from .base import _in

if TYPE_CHECKING:
    from .customers import Customer
    from .demands import Demand


class Notice(Base):
    """Outbox row: written in the same transaction as the change that makes it due."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint(_in("kind", NOTICE_KINDS), name="notice_kind"),
        CheckConstraint(_in("state", NOTICE_STATES), name="notice_state"),
        UniqueConstraint("demand_id", "customer_id", "kind", name="uq_notices_demand_customer_kind"),
        Index("ix_notices_state_next", "state", "next_attempt_at"),
        Index("ix_notices_customer_state", "customer_id", "state"),
        # The notices page's held lists, newest first, each read only as far as its page
        # (staff/notices.py; migration 0014).
        Index("ix_notices_state_id", "state", "id"),
        # A customer's notices in the portal, newest first (portal/views.py; migration 0015).
        Index("ix_notices_customer_created", "customer_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    # held_by: 'gag' or 'deferral' while held; kept for the record afterwards.
    held_by: Mapped[str | None] = mapped_column(String(20))
    # True once a gag has held this notice (the report's notice_delayed_by_gag).
    gag_held: Mapped[bool] = mapped_column(Boolean, default=False)
    delayed: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)

    demand: Mapped[Demand] = relationship()
    customer: Mapped[Customer] = relationship()
