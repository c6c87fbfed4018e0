"""Keep the replies with each handled update id, so a redelivery after a crash gets the same
answer again instead of acting twice or losing it.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_seen") as batch:
        batch.add_column(sa.Column("replies", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_seen") as batch:
        batch.drop_column("replies")
