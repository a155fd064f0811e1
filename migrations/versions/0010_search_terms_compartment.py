"""search terms carry their demand's process type

Each search term carries its demand's process type, its compartment, in the index of
(term, received_at, demand_id, process_type) (issue 15). A search by a reader who lacks
a compartment leaves its demands out from the terms alone. Until now it left them out
by demand id, against a hash of every national-security demand's id built for each
statement, which grew with the desk: 11,796 ids at a million demands, 3.2 ms of a
search on PostgreSQL.

The table is made again in its new shape and filled from the demands and their
targets; the triggers (requests_desk/search_terms.py) write the new column from here.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from requests_desk import search_terms
from requests_desk.db import UTCDateTime
from requests_desk.models.search import TERM

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _table(with_type: bool) -> None:
    op.create_table(
        'demand_search_terms',
        sa.Column('term', TERM, nullable=False),
        sa.Column('demand_id', sa.Integer(), nullable=False),
        sa.Column('received_at', UTCDateTime(), nullable=True),
        *([sa.Column('process_type', sa.String(50), nullable=False)] if with_type else []),
        sa.ForeignKeyConstraint(['demand_id'], ['demands.id'], name=op.f('fk_demand_search_terms_demand_id_demands'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('term', 'demand_id', name=op.f('pk_demand_search_terms')),
    )
    op.create_index('ix_demand_search_terms_demand_term', 'demand_search_terms', ['demand_id', 'term'], unique=False)
    if with_type:
        op.create_index('ix_demand_search_terms_term_received_type', 'demand_search_terms',
                        ['term', 'received_at', 'demand_id', 'process_type'], unique=False)
    else:
        op.create_index('ix_demand_search_terms_term_received', 'demand_search_terms',
                        ['term', 'received_at', 'demand_id'], unique=False)


def _remake(version: int) -> None:
    """The table dropped and made again as migration ``version`` shaped it, refilled (a
    NOT NULL column cannot be added to SQLite's table with rows, and every row changes)."""
    conn = op.get_bind()
    search_terms.uninstall(conn)
    op.drop_table('demand_search_terms')
    _table(with_type=version >= 10)
    search_terms.absorb(conn, 0, version=version)
    search_terms.install(conn, version=version)


def upgrade() -> None:
    _remake(10)


def downgrade() -> None:
    _remake(9)
