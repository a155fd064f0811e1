"""The transparency report: compiled versions, their rendered artifacts, and the
summary tables the triggers of requests_desk/report_summary.py keep."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


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
