"""Gag orders (non-disclosure orders), their history, and emergency notice deferrals.

Whether a gag is active is said twice, once per side of the database, and the two must
agree (tests/test_models_helpers.py checks it on random times): in Python
``Gag.active_at(now)`` on a loaded row, in SQL ``Gag.active_condition(now)`` (and
``gag_active_clause`` for "the demand has an active gag") in a query.

``Gag.demand`` names ``Demand`` only as a string, resolved through the mapper registry:
this module imports nothing from ``demands`` (which imports ``Gag`` for its annotations),
so the model modules' imports stay free of cycles, even under ``TYPE_CHECKING``.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    and_,
    exists,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow

# A gag in force for over this many days is listed to review for a challenge (the staff
# queue's "Gags to review"); said in SQL as its partial index says it, on each database.
LONG_GAG_DAYS = 365
_LONG_GAG_SQL = {
    "sqlite": "julianday({t}expires_at) - julianday({t}set_at) > {days}",
    "postgresql": "{t}expires_at - {t}set_at > interval '{days} days'",
}


def long_gag_sql(dialect: str, table: str = "") -> str:
    """``expires_at - set_at`` over LONG_GAG_DAYS on ``dialect``, its number written in;
    the columns named as in the partial index's WHERE, or qualified by ``table``."""
    return _LONG_GAG_SQL[dialect].format(t=f"{table}." if table else "", days=LONG_GAG_DAYS)


class Gag(Base):
    """A non-disclosure order. Active when not lifted and expires_at is null or future."""

    __tablename__ = "gags"
    __table_args__ = (
        Index("ix_gags_demand_lifted", "demand_id", "lifted_at"),
        # The queue's gag lists, each a range of the gags not lifted in its own order: no
        # end (expires_at NULL) by when set, or by their end (services/queue.py; migration
        # 0011), with the compartment each gag's demand is in (migration 0013).
        Index("ix_gags_unlifted_end", "expires_at", "set_at", "demand_id", "id", "process_type",
              sqlite_where=text("lifted_at IS NULL"), postgresql_where=text("lifted_at IS NULL")),
        # The long ones alone ("Gags to review": in force over LONG_GAG_DAYS), by their end:
        # read in the other index, most entries were tested and passed over (4.1 of the
        # home's 5.8 ms of counting at a million demands on SQLite; migration 0016).
        Index("ix_gags_unlifted_long", "expires_at", "set_at", "demand_id", "id", "process_type",
              sqlite_where=text(f"lifted_at IS NULL AND {long_gag_sql('sqlite')}"),
              postgresql_where=text(f"lifted_at IS NULL AND {long_gag_sql('postgresql')}")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    order_ref: Mapped[str] = mapped_column(String(200))
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[date | None] = mapped_column(Date)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(Text)
    # The demand's process type (its compartment), copied when the gag is set: the queue
    # counts the gags a reader may know of from the gags alone (services/queue.py). A
    # demand's process type never changes after intake (report_summary's guard).
    process_type: Mapped[str] = mapped_column(String(50))

    demand: Mapped[Demand] = relationship(back_populates="gags")  # noqa: F821 (by name: see above)
    events: Mapped[list[GagEvent]] = relationship(
        back_populates="gag", cascade="all, delete-orphan", order_by="GagEvent.id"
    )

    def active_at(self, now: datetime) -> bool:
        """In force at ``now``: not lifted, and no end date or an end date after ``now``.

        ``Gag.active_condition(now)`` is its SQL twin: change both or neither."""
        return self.lifted_at is None and (self.expires_at is None or self.expires_at > now)

    @classmethod
    def active_condition(cls, now: datetime) -> ColumnElement[bool]:
        """SQL: this gag row is active at ``now`` — the SQL twin of ``Gag.active_at``
        (not lifted, and no end date or an end date after ``now``); change both or neither.

        On an alias, ``aliased(Gag).active_condition(now)`` speaks of the alias's rows."""
        return and_(cls.lifted_at.is_(None), or_(cls.expires_at.is_(None), cls.expires_at > now))

    @property
    def starts_at(self) -> datetime:
        """When the order took effect: its issue date (00:00 UTC), else when it was recorded."""
        if self.issued_at is not None:
            return datetime.combine(self.issued_at, time.min, tzinfo=timezone.utc)
        return self.set_at


def gag_active_clause(demand_id: Any, now: datetime) -> ColumnElement[bool]:
    """SQL: the demand ``demand_id`` (a column or a value) has a gag active at ``now``:
    not lifted, and no end date or an end date in the future."""
    return exists().where(Gag.demand_id == demand_id, Gag.active_condition(now))


class GagEvent(Base):
    """History of a gag: set, extend, lift — each with who, when and why."""

    __tablename__ = "gag_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    gag_id: Mapped[int] = mapped_column(ForeignKey("gags.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    gag: Mapped[Gag] = relationship(back_populates="events")


class NoticeDeferral(Base):
    """Counsel's deferral of an emergency demand's notices until a date."""

    __tablename__ = "notice_deferrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def deferral_active_clause(demand_id: Any, now: datetime) -> ColumnElement[bool]:
    """SQL: counsel's latest deferral of the demand's notices runs past ``now``.

    The latest deferral decides: counsel may move the date either way."""
    later = aliased(NoticeDeferral)
    return exists().where(
        NoticeDeferral.demand_id == demand_id,
        NoticeDeferral.until > now,
        ~exists().where(later.demand_id == NoticeDeferral.demand_id, later.id > NoticeDeferral.id),
    )
