"""compartment ids index

An index of (process_type, id) on demands (issue 15): the lists and counts that leave
the compartments a viewer lacks out by demand id read those demands' ids from the index
alone. PostgreSQL read each one's row instead (11,800 national-security demands at a
million: 10 ms for a search's count); SQLite's indexes already hold the row id.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:00:00.000000
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_demands_process_id', 'demands', ['process_type', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_demands_process_id', table_name='demands')
