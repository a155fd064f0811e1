"""The audit log: append-only, hash-chained events and the chain's head (requests_desk/audit.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class AuditEvent(Base):
    """Append-only, hash-chained. Each hash covers the event's content (its before/after
    through ``payload_digest``) and the previous hash."""

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
    # What the hash commits to of before/after (an HMAC of the two): null on events written
    # before the digests, hashed over before/after themselves (requests_desk/audit.py).
    payload_digest: Mapped[str | None] = mapped_column(String(64))
    # A recorded redaction (retention): personal values in before/after replaced, the
    # digest kept, the redacted payload sealed by an HMAC under the audit key.
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redaction_seal: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head, kept apart: detects deletion of the last event."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)
    # Which key made the chain's HMACs (a fingerprint, never the key): null while the
    # chain is still the older unkeyed SHA-256 one that ``desk init`` re-keys once.
    key_id: Mapped[str | None] = mapped_column(String(16))
