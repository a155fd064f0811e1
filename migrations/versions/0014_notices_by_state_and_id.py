"""notices by state and id

An index of the notices by (state, id) (issue 15): the notices page lists the held
notices newest first, those awaiting counsel's release and those a gag or deferral
holds, each read from this index only as far as its page of 200, each notice's demand
tested as it is read. Before, every held notice of the desk was joined to its demand
and sorted on each visit (5,066 at 100,000 demands), which grew with the desk.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 02:40:00.000000
"""
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_notices_state_id', 'notices', ['state', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notices_state_id', table_name='notices')
