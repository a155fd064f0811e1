"""search terms by date

An index of the search terms by their demand's date, (received_at, demand_id, term,
process_type) (issue 15): a search whose prefix matches too many terms to sort them all
reads its page in the list's default order by walking this index from the newest, each
entry's term tested as it is read, until it has a page's demands. It walked the demands
before, probing each one's terms through (demand_id, term): 2,100 probes a page for a
prefix that one demand in 42 matches, 3.2 ms at a million demands on PostgreSQL; this
walk reads the same demands' terms in order, from the index alone.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:00:00.000000
"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_demand_search_terms_received', 'demand_search_terms',
                    ['received_at', 'demand_id', 'term', 'process_type'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_demand_search_terms_received', table_name='demand_search_terms')
