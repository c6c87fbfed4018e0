"""WeChat tables: the shared access-token cache, its refresh lease, and last-seen times
(for the 48-hour customer-service window).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_token_cache",
        sa.Column("key", sa.String(191), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
    )
    op.create_table(
        "wechat_token_lease",
        sa.Column("key", sa.String(191), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("until", sa.Float, nullable=False),
    )
    op.create_table(
        "wechat_last_seen",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("seen_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wechat_last_seen")
    op.drop_table("wechat_token_lease")
    op.drop_table("wechat_token_cache")
