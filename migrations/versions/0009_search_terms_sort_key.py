"""search terms carry their demand's received_at

Each search term carries its demand's ``received_at``, with an index of (term,
received_at, demand_id) (issue 15): a search's page in the case list's default order
(newest first) is read from the terms alone, the newest 51 of the prefix's range, and
only those demands' rows are read. PostgreSQL read every matching demand's row to sort
them (2,570 for "charle" at 100,000 demands: 12.9 ms; now 1.7 ms).

Migration 0007 made the table; from here the triggers write the new column, and the
table is filled again from the demands and their targets.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 02:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from requests_desk import search_terms
from requests_desk.db import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    search_terms.uninstall(conn)
    op.add_column('demand_search_terms', sa.Column('received_at', UTCDateTime(), nullable=True))
    op.create_index('ix_demand_search_terms_term_received', 'demand_search_terms',
                    ['term', 'received_at', 'demand_id'], unique=False)
    search_terms.rebuild(conn, version=9)
    search_terms.install(conn, version=9)


def downgrade() -> None:
    conn = op.get_bind()
    search_terms.uninstall(conn)
    op.drop_index('ix_demand_search_terms_term_received', table_name='demand_search_terms')
    with op.batch_alter_table('demand_search_terms') as batch:
        batch.drop_column('received_at')
    search_terms.install(conn, version=7)  # 0007's triggers
