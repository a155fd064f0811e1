"""The rule tables: the data-set catalogue and the process types (loaded by requests_desk/rules.py)."""
from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..vocabulary import TIERS
from .base import _in


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
