"""case list search and filters

The case list's search index (issue 15): ``demand_search_terms`` (each demand's
reference, legal reference and target identifiers, lower-cased; a prefix of any is a
range of the primary key), filled from the rows there are and kept by triggers
(requests_desk/search_terms.py); and an index for the list's three filters together
(country, process type, status; newest first), which lets a filtered list count its
matches without reading the demands.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 19:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

from requests_desk import search_terms
from requests_desk.models.search import TERM

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'demand_search_terms',
        sa.Column('term', TERM, nullable=False),
        sa.Column('demand_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['demand_id'], ['demands.id'], name=op.f('fk_demand_search_terms_demand_id_demands'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('term', 'demand_id', name=op.f('pk_demand_search_terms')),
    )
    op.create_index('ix_demand_search_terms_demand_term', 'demand_search_terms', ['demand_id', 'term'], unique=False)
    op.create_index('ix_demands_country_process_status_received', 'demands',
                    ['country', 'process_type', 'status', 'received_at'], unique=False)
    conn = op.get_bind()
    search_terms.absorb(conn, 0, version=7)  # the table as it was here (0009 and 0010 add columns)
    search_terms.install(conn, version=7)


def downgrade() -> None:
    conn = op.get_bind()
    search_terms.uninstall(conn)
    op.drop_index('ix_demands_country_process_status_received', table_name='demands')
    op.drop_index('ix_demand_search_terms_demand_term', table_name='demand_search_terms')
    op.drop_table('demand_search_terms')
