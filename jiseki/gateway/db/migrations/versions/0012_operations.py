"""operations: Wake-on-LAN (the PC's network interfaces), alerts by mail (addresses, choices, what was
sent), one-click links, the terminals each person has used

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from jiseki.gateway.db.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("network", sa.Text))  # JSON: [{"mac", "address", "prefix", "broadcast"}]
        batch.add_column(sa.Column("wake_requested_at", UTCDateTime()))
        batch.add_column(sa.Column("wake_requested_by", sa.String(64)))
    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("wake", sa.Boolean))  # the policy setting `wake` (portal 電源オン)
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(255)))
    op.create_table(
        "alert_choices",
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
    )
    op.create_table(
        "alerts_sent",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("node_id", sa.String(64)),
    )
    op.create_table(
        "action_links",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("session_id", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("used_at", UTCDateTime()),
    )
    op.create_table(
        "user_terminals",
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("terminal_id", sa.String(64), primary_key=True),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_terminals")
    op.drop_table("action_links")
    op.drop_table("alerts_sent")
    op.drop_table("alert_choices")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("wake")
    with op.batch_alter_table("hosts") as batch:
        for column in ("wake_requested_by", "wake_requested_at", "network"):
            batch.drop_column(column)
