"""The case list's search index: a demand's reference, legal reference and target
identifiers, lower-cased, one row each, with the demand's received_at and process type
(kept by triggers: requests_desk/search_terms.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

# Bytewise order on PostgreSQL, as SQLite's default: a prefix is one range of the key.
TERM = String(320).with_variant(String(320, collation="C"), "postgresql")


class DemandSearchTerm(Base):
    __tablename__ = "demand_search_terms"
    __table_args__ = (
        Index("ix_demand_search_terms_demand_term", "demand_id", "term"),
        # A search's page in the list's default order, read from the terms alone
        # (search_terms.newest_first), and its count: the range of a prefix, its demands'
        # dates, ids and compartments (migration 0010).
        Index("ix_demand_search_terms_term_received_type", "term", "received_at", "demand_id", "process_type"),
        # A broad search's page in that order, the terms walked by date from the newest
        # (search_terms.newest_first, walking): each entry's term tested as it is read,
        # its compartment beside it (migration 0012).
        Index("ix_demand_search_terms_received", "received_at", "demand_id", "term", "process_type"),
    )

    term: Mapped[str] = mapped_column(TERM, primary_key=True)
    demand_id: Mapped[int] = mapped_column(Integer, ForeignKey("demands.id", ondelete="CASCADE"), primary_key=True)
    # The demand's received_at (written by the triggers with the term; migration 0009).
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The demand's process type, its compartment (written by the triggers; migration
    # 0010): a search leaves out the compartments its reader lacks from the terms alone.
    process_type: Mapped[str] = mapped_column(String(50))
