"""staff queue indexes

Two partial indexes for the staff queue (issue 15). The open demands by when they are
due, with every column the work lists test (status, emergency, assignee, process type,
who proposed the scope): each work list is read in its order from the index alone, as
far as its page, and counted there up to the cap. "Overdue" and "Open, due later" read
and sorted every open demand before (11 ms each at a million demands on PostgreSQL).

An index of (status, process_type): the home's count of each state, up to the cap,
leaves out the compartments a viewer lacks from the index alone (10.5 -> 0.8 ms at a
million demands on SQLite).

And a partial index of the gags not lifted, by (expires_at, set_at, demand_id, id) (issue
15): the staff queue's "Gags to review" lists the gags with no end by when they were
set, then the long ones by their end, and "Gags expiring" the next to end; each is a
range of this index in its own order, read only as far as the page. "Gags to review"
read and sorted every active gag before (130 ms at a million demands on PostgreSQL).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


OPEN_SQL = "status IN ('received', 'redirecting', 'in_review', 'scoped', 'approved')"


def upgrade() -> None:
    op.create_index('ix_demands_open_due', 'demands',
                    ['due_at', 'id', 'status', 'emergency', 'assignee_id', 'process_type', 'proposed_by_id'],
                    unique=False, sqlite_where=sa.text(OPEN_SQL), postgresql_where=sa.text(OPEN_SQL))
    op.create_index('ix_demands_status_process', 'demands', ['status', 'process_type'], unique=False)
    op.create_index('ix_gags_unlifted_end', 'gags', ['expires_at', 'set_at', 'demand_id', 'id'], unique=False,
                    sqlite_where=sa.text('lifted_at IS NULL'), postgresql_where=sa.text('lifted_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_gags_unlifted_end', table_name='gags')
    op.drop_index('ix_demands_status_process', table_name='demands')
    op.drop_index('ix_demands_open_due', table_name='demands')
