"""portal notices newest first

An index of the notices by (customer_id, created_at, id) (issue 15): the customer
portal lists an organisation's notices newest first, a page of 50, read from this index
as far as the page. Before, every notice of the organisation was read and sorted on
each visit (15,800 for the largest demo customer at 100,000 demands), which grew with
the desk.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 03:00:00.000000
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_notices_customer_created', 'notices', ['customer_id', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notices_customer_created', table_name='notices')
