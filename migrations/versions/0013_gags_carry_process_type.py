"""gags carry their demand's process type

Each gag carries its demand's process type (its compartment), also in the partial index
of the gags not lifted (issue 15). The staff home counts its two gag lists from that
index alone, leaving out the compartments its reader lacks by the gag's own column. It
tested each gag's demand before, joined by id: up to 1,001 demands' rows read for each
count, 5.5 of the home's 8.4 ms of counting on PostgreSQL at 100,000 demands.

A demand's process type never changes after intake (the report summary's guard), so the
copy cannot drift; ``services.gags.record_gag`` writes it with the gag.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def _unlifted_end(*extra: str) -> None:
    op.create_index('ix_gags_unlifted_end', 'gags', ['expires_at', 'set_at', 'demand_id', 'id', *extra], unique=False,
                    sqlite_where=sa.text('lifted_at IS NULL'), postgresql_where=sa.text('lifted_at IS NULL'))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite adds a NOT NULL column only with a default, and its table cannot be made
        # again here: dropping the old one would delete the gags' events (ON DELETE CASCADE).
        # The default is never used: every gag is written with its demand's process type.
        op.execute("ALTER TABLE gags ADD COLUMN process_type VARCHAR(50) NOT NULL DEFAULT ''")
    else:
        op.add_column('gags', sa.Column('process_type', sa.String(length=50), nullable=True))
    op.execute("UPDATE gags SET process_type = (SELECT d.process_type FROM demands d WHERE d.id = gags.demand_id)")
    if not sqlite:
        op.alter_column('gags', 'process_type', nullable=False)
    op.drop_index('ix_gags_unlifted_end', table_name='gags')
    _unlifted_end('process_type')


def downgrade() -> None:
    op.drop_index('ix_gags_unlifted_end', table_name='gags')
    _unlifted_end()
    op.execute("ALTER TABLE gags DROP COLUMN process_type")
