"""retention

Retention (SPEC §8): when a demand was purged, and the audit chain's payload digests, so
that a recorded redaction of an event's before/after does not read as tampering.

`desk init` then gives every existing event its digest and hashes the chain again once
(requests_desk/audit_redaction.py: digest_payloads, recorded as `audit.digested`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import requests_desk.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE … ADD COLUMN (no batch rebuild of tables others reference).
    op.add_column('audit_events', sa.Column('payload_digest', sa.String(length=64), nullable=True))
    op.add_column('audit_events', sa.Column('redacted_at', requests_desk.db.UTCDateTime(timezone=True),
                                            nullable=True))
    op.add_column('audit_events', sa.Column('redaction_seal', sa.String(length=64), nullable=True))
    op.add_column('demands', sa.Column('purged_at', requests_desk.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # The chain's hashes cover the digests: after a downgrade, `verify-audit` fails until
    # the events are hashed over their payloads again (not done here).
    op.execute("ALTER TABLE demands DROP COLUMN purged_at")
    op.execute("ALTER TABLE audit_events DROP COLUMN redaction_seal")
    op.execute("ALTER TABLE audit_events DROP COLUMN redacted_at")
    op.execute("ALTER TABLE audit_events DROP COLUMN payload_digest")
