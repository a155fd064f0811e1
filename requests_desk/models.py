"""Typed SQLAlchemy 2.0 models. Codes (roles, states, tiers…) are the SPEC §1 codes."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base, UTCDateTime, utcnow

STAFF_ROLES = ("intake", "counsel", "approver", "admin")
ROLES = STAFF_ROLES + ("customer",)
REQUESTER_TYPES = ("law_enforcement", "government", "court", "civil_litigant")
TIERS = ("subscriber", "non_content", "content")
STATES = ("received", "redirecting", "in_review", "scoped", "approved", "closed")
OPEN_STATES = STATES[:-1]
OUTCOMES = (
    "content_disclosed",
    "non_content_disclosed",
    "no_data_found",
    "rejected",
    "redirected",
    "withdrawn",
    "preserved",
)
ITEM_KINDS = ("requested", "scope", "production", "preserved")
NOTICE_KINDS = ("demand", "outcome")
NOTICE_STATES = ("held", "pending", "sent", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# ---------------------------------------------------------------- users


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    customer: Mapped[Customer | None] = relationship(lazy="joined")

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_staff(self) -> bool:
        return bool(self.roles.intersection(STAFF_ROLES))

    @property
    def label(self) -> str:
        return self.name or self.email


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role_code"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


# ---------------------------------------------------------------- customers


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    domains: Mapped[list[CustomerDomain]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerDomain.domain"
    )
    accounts: Mapped[list[CustomerAccount]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerAccount.identifier"
    )
    contacts: Mapped[list[CustomerContact]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerContact.id"
    )


class CustomerDomain(Base):
    __tablename__ = "customer_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)

    customer: Mapped[Customer] = relationship(back_populates="domains")


class CustomerAccount(Base):
    """Explicit mapping of an account identifier to a customer; wins over the domain."""

    __tablename__ = "customer_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    identifier: Mapped[str] = mapped_column(String(320), unique=True)

    customer: Mapped[Customer] = relationship(back_populates="accounts")


class CustomerContact(Base):
    __tablename__ = "customer_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))

    customer: Mapped[Customer] = relationship(back_populates="contacts")


# ---------------------------------------------------------------- rule tables (data)


class DataSet(Base):
    __tablename__ = "data_sets"
    __table_args__ = (CheckConstraint(_in("tier", TIERS), name="tier_code"),)

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    tier: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200), default="")


class ProcessRule(Base):
    """A process type and what it can compel; loaded from a rule set (see rules.py)."""

    __tablename__ = "process_rules"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    # Highest tier it can compel; NULL with discloses=False: preserves only;
    # NULL with discloses=True: decided in review (counsel's basis required).
    max_tier: Mapped[str | None] = mapped_column(String(20))
    discloses: Mapped[bool] = mapped_column(Boolean, default=True)
    preservation: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Due-date rule, in hours; emergency_due_hours overrides when the demand is emergency.
    due_hours: Mapped[int] = mapped_column(Integer, default=14 * 24)
    emergency_due_hours: Mapped[int] = mapped_column(Integer, default=24)
    hold_days: Mapped[int | None] = mapped_column(Integer)
    hold_extension_days: Mapped[int | None] = mapped_column(Integer)


# ---------------------------------------------------------------- demands


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
        # The queue's open emergencies: a few rows out of many (partial: emergencies only).
        Index("ix_demands_emergency_status_due", "status", "due_at", sqlite_where=text("emergency IS 1"),
              postgresql_where=text("emergency IS true")),
        Index("ix_demands_country_received", "country", "received_at"),
        Index("ix_demands_process_received", "process_type", "received_at"),
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

    def items_of(self, kind: str) -> list[DemandItem]:
        return [i for i in self.items if i.kind == kind]

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


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
        out = {
            "target": self.target,
            "data_set": self.data_set,
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
        }
        if self.basis:
            out["basis"] = self.basis
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

    demand: Mapped[Demand] = relationship(back_populates="documents")


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


# ---------------------------------------------------------------- gags and notices


class Gag(Base):
    """A non-disclosure order. Active when not lifted and expires_at is null or future."""

    __tablename__ = "gags"
    __table_args__ = (Index("ix_gags_demand_lifted", "demand_id", "lifted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    order_ref: Mapped[str] = mapped_column(String(200))
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[date | None] = mapped_column(Date)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(Text)

    demand: Mapped[Demand] = relationship(back_populates="gags")
    events: Mapped[list[GagEvent]] = relationship(
        back_populates="gag", cascade="all, delete-orphan", order_by="GagEvent.id"
    )

    def active_at(self, now: datetime) -> bool:
        return self.lifted_at is None and (self.expires_at is None or self.expires_at > now)


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


class Notice(Base):
    """Outbox row: written in the same transaction as the change that makes it due."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint(_in("kind", NOTICE_KINDS), name="notice_kind"),
        CheckConstraint(_in("state", NOTICE_STATES), name="notice_state"),
        UniqueConstraint("demand_id", "customer_id", "kind", name="uq_notices_demand_customer_kind"),
        Index("ix_notices_state_next", "state", "next_attempt_at"),
        Index("ix_notices_customer_state", "customer_id", "state"),
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


# ---------------------------------------------------------------- reports


class Report(Base):
    """A compiled report: the draft (version NULL) or a frozen published version."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("period", "version", name="uq_reports_period_version"),
        CheckConstraint("status IN ('draft', 'published')", name="report_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int | None] = mapped_column(Integer)
    compiled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)  # the report JSON, exactly as served


class ReportAccount(Base):
    """A distinct target identifier of a report period under one dimension and member
    (``country``/``US``, ``process_type``/``subpoena``, ``section``/``main``): kept by
    triggers as targets are written (requests_desk/report_summary.py)."""

    __tablename__ = "report_accounts"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the row: one B-tree, not two

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    member: Mapped[str] = mapped_column(String(50), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(320), primary_key=True)


class ReportAccountCount(Base):
    """How many distinct identifiers a period has under a dimension and member: the
    report's ``accounts_specified``, kept by the same triggers."""

    __tablename__ = "report_account_counts"
    __table_args__ = {"sqlite_with_rowid": False}

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    member: Mapped[str] = mapped_column(String(50), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ReportMark(Base):
    """A demand has had a notice sent (``notified``, ``at`` the first), a notice held by a
    gag (``gag_held``) or a gag (``gag``); with the demand's period, whether it counts in
    the main sections and whether it concerns an enterprise customer. Kept by triggers."""

    __tablename__ = "report_marks"
    __table_args__ = (
        CheckConstraint("kind IN ('notified', 'gag_held', 'gag')", name="report_mark_kind"),
        # The compile looks for notices sent after its own time (normally none).
        Index("ix_report_marks_period_kind_at", "period", "kind", "at"),
        {"sqlite_with_rowid": False},
    )

    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    main: Mapped[bool] = mapped_column(Boolean)
    enterprise: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReportMarkCount(Base):
    """How many demands of a period the report counts with a mark: of the main sections,
    for ``gag`` all of them, for ``notified`` and ``gag_held`` those of enterprise
    customers. Kept by a trigger on ``report_marks``."""

    __tablename__ = "report_mark_counts"
    __table_args__ = {"sqlite_with_rowid": False}

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ReportArtifact(Base):
    """A published version's rendered output (html fragment, csv, pdf, svg), made once."""

    __tablename__ = "report_artifacts"
    __table_args__ = (UniqueConstraint("report_id", "kind", name="uq_report_artifacts_report_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))


# ---------------------------------------------------------------- audit


class AuditEvent(Base):
    """Append-only, hash-chained. Each hash covers the event's content and the previous hash."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[int | None] = mapped_column(Integer)
    demand_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head, kept apart: detects deletion of the last event."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)
