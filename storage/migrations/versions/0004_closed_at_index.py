"""Index cases.closed_at: period reports select the cases closed since a date.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_closed_at", "cases", ["closed_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_closed_at", table_name="cases")
