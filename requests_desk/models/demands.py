"""A demand and what belongs to it: requester, targets, items, documents, production
manifest, assignments, due-date changes and preservation hold; the reference counter."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    ColumnElement,
    UniqueConstraint,
    exists,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow
from ..vocabulary import ITEM_KINDS, OPEN_STATES, OUTCOMES, REQUESTER_TYPES, STATES
from .base import _in

# The open states as a partial index's WHERE says them (``ix_demands_open_due``).
OPEN_SQL = "status IN (" + ", ".join(f"'{state}'" for state in OPEN_STATES) + ")"

if TYPE_CHECKING:
    from .customers import Customer
    from .gags import Gag
    from .outside import EmergencyCheck
    from .users import User


class Requester(Base):
    __tablename__ = "requesters"
    __table_args__ = (CheckConstraint(_in("type", REQUESTER_TYPES), name="requester_type_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(20))


class ReferenceCounter(Base):
    """Last sequence number used per year: references are never reused."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Demand(Base):
    __tablename__ = "demands"
    __table_args__ = (
        CheckConstraint(_in("status", STATES), name="status_code"),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', OUTCOMES)}", name="outcome_code"),
        # A demand has an outcome exactly when it is closed (the report counts the rest as pending).
        CheckConstraint("(status = 'closed') = (outcome IS NOT NULL)", name="outcome_when_closed"),
        # The case list: every filter with the default sort (newest first), and each sort.
        Index("ix_demands_received_at", "received_at"),
        Index("ix_demands_status_received", "status", "received_at"),
        Index("ix_demands_status_due", "status", "due_at"),
        # The queue's work lists and their counts: the open demands (few of many) in order
        # of when they are due, with every column the lists test, read from the index
        # alone (services/queue.py; migration 0011). The queries say the same IN of
        # written-in states, which is what lets either database use a partial index.
        Index("ix_demands_open_due", "due_at", "id", "status", "emergency", "assignee_id", "process_type",
              "proposed_by_id", sqlite_where=text(OPEN_SQL), postgresql_where=text(OPEN_SQL)),
        # The home's count of each state, up to the cap, with the compartments a viewer
        # lacks left out: from the index alone (migration 0011).
        Index("ix_demands_status_process", "status", "process_type"),
        # The queue's open emergencies: a few rows out of many (partial: emergencies only).
        Index("ix_demands_emergency_status_due", "status", "due_at", sqlite_where=text("emergency IS 1"),
              postgresql_where=text("emergency IS true")),
        Index("ix_demands_country_received", "country", "received_at"),
        Index("ix_demands_process_received", "process_type", "received_at"),
        # The ids of a compartment's demands, read from the index alone (PostgreSQL's
        # indexes hold no id of their own): the lists and counts that leave a viewer's
        # hidden compartments out by demand id (services/case.py: visible_by_id).
        Index("ix_demands_process_id", "process_type", "id"),
        # The three filters together: a filtered list counts its matches in the index alone.
        Index("ix_demands_country_process_status_received", "country", "process_type", "status", "received_at"),
        # A unique index, not a constraint: SQLite adds it to a table that has rows.
        Index("uq_demands_external_id", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(50), default="email")
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id"), index=True)
    country: Mapped[str] = mapped_column(String(2))
    process_type: Mapped[str] = mapped_column(ForeignKey("process_rules.code"))
    legal_reference: Mapped[str] = mapped_column(String(200), index=True)
    issuing_authority: Mapped[str] = mapped_column(String(200), default="")
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    justification: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="received")
    outcome: Mapped[str | None] = mapped_column(String(30), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True when any target resolves to an enterprise customer (kept at intake).
    concerns_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    # Counsel's release of the demand's notices (SPEC §4): until then every notice of
    # the demand waits as held, awaiting counsel, whatever a gag or deferral says.
    notices_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notices_released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Retention (SPEC §8): when `desk purge --apply` deleted the demand's files and
    # redacted its target identifiers and requester everywhere (services/retention.py).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Requests from outside (SPEC §9): the requester account that submitted the demand
    # through the requester portal (channel ``portal``); the spreadsheet row group it was
    # imported from (channel ``import``; unique, so a file cannot be imported twice); and
    # counsel's reason for proposing a scope before the four emergency checks were done.
    requester_account_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(100))
    checks_override_reason: Mapped[str | None] = mapped_column(Text)
    checks_override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checks_override_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requester: Mapped[Requester] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    targets: Mapped[list[DemandTarget]] = relationship(
        back_populates="demand", cascade="all, delete-orphan", order_by="DemandTarget.position"
    )
    items: Mapped[list[DemandItem]] = relationship(
        back_populates="demand", cascade="all, delete-orphan", order_by="DemandItem.id"
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="demand", cascade="all, delete-orphan", order_by="Document.id"
    )
    production_files: Mapped[list[ProductionFile]] = relationship(
        back_populates="demand", cascade="all, delete-orphan", order_by="ProductionFile.id"
    )
    gags: Mapped[list[Gag]] = relationship(
        back_populates="demand", cascade="all, delete-orphan", order_by="Gag.id"
    )
    emergency_checks: Mapped[list[EmergencyCheck]] = relationship(
        back_populates="demand", cascade="all, delete-orphan", order_by="EmergencyCheck.id"
    )

    def items_of(self, kind: str) -> list[DemandItem]:
        return [i for i in self.items if i.kind == kind]

    @property
    def is_open(self) -> bool:
        return self.status != "closed"

    @property
    def customers(self) -> list[Customer]:
        """The distinct customers of the demand's targets, in target order (a target
        that resolves to no customer adds none)."""
        seen: dict[int, Customer] = {}
        for t in self.targets:
            if t.customer is not None and t.customer.id not in seen:
                seen[t.customer.id] = t.customer
        return list(seen.values())

    def active_gag(self, now: datetime) -> Gag | None:
        """The first of the demand's gags (by id) active at ``now``, or None."""
        for gag in self.gags:
            if gag.active_at(now):
                return gag
        return None

    def latest_gag(self, now: datetime) -> Gag | None:
        """The gag to show: the one active at ``now``, else the last recorded, else None."""
        return self.active_gag(now) or (self.gags[-1] if self.gags else None)


def awaiting_counsel_clause(demand_id: Any) -> ColumnElement[bool]:
    """SQL: counsel has not yet released the notices of demand ``demand_id`` (a column
    or a value); the twin of ``demand.notices_released_at is None``."""
    return exists().where(Demand.id == demand_id, Demand.notices_released_at.is_(None))


class DemandTarget(Base):
    __tablename__ = "demand_targets"
    __table_args__ = (
        UniqueConstraint("demand_id", "identifier", name="uq_demand_targets_demand_identifier"),
        # The case list's customer filter probes (customer, demand) for each demand row.
        Index("ix_demand_targets_customer_demand", "customer_id", "demand_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(320), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)

    demand: Mapped[Demand] = relationship(back_populates="targets")
    customer: Mapped[Customer | None] = relationship(lazy="joined")


class DemandItem(Base):
    """A {target, data_set, from, to} row: requested, proposed scope, produced or preserved."""

    __tablename__ = "demand_items"
    __table_args__ = (
        CheckConstraint(_in("kind", ITEM_KINDS), name="item_kind"),
        CheckConstraint("date_from <= date_to", name="item_range"),
        Index("ix_demand_items_demand_kind", "demand_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(320))
    data_set: Mapped[str] = mapped_column(ForeignKey("data_sets.code"))
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)
    basis: Mapped[str | None] = mapped_column(Text)

    demand: Mapped[Demand] = relationship(back_populates="items")

    def as_dict(self) -> dict:
        return item_as_dict(self)


def item_as_dict(item: Any) -> dict:
    """An item (a row, or a parsed ``services.items.Item``) as the API and the audit log
    write it: ``{target, data_set, from, to}``, plus ``basis`` when counsel gave one."""
    out = {
        "target": item.target,
        "data_set": item.data_set,
        "from": item.date_from.isoformat(),
        "to": item.date_to.isoformat(),
    }
    if item.basis:
        out["basis"] = item.basis
    return out


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A redacted copy made for one customer of the demand: it goes to that customer only.
    for_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))

    demand: Mapped[Demand] = relationship(back_populates="documents")
    recipients: Mapped[list[DocumentRecipient]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="DocumentRecipient.customer_id"
    )


class DocumentRecipient(Base):
    """Counsel's mark: this document goes to this customer (with its notice, in its portal).
    On a demand that concerns more than one customer a document goes to none until marked."""

    __tablename__ = "document_recipients"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="recipients")


class ProductionFile(Base):
    """One line of a production manifest (the file itself is kept only on request)."""

    __tablename__ = "production_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    stored_name: Mapped[str | None] = mapped_column(String(64))

    demand: Mapped[Demand] = relationship(back_populates="production_files")


class AccessGrant(Base):
    """Break-glass (SPEC §7): one staff user may open one demand's files until
    ``expires_at``, for the reason given; listed on the case page and /desk/access."""

    __tablename__ = "access_grants"
    __table_args__ = (Index("ix_access_grants_user_demand", "user_id", "demand_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class Assignment(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DueDateChange(Base):
    __tablename__ = "due_date_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    old_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    new_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PreservationHold(Base):
    __tablename__ = "preservation_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), unique=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    demand: Mapped[Demand] = relationship()
