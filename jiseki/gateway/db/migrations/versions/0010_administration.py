"""administration at prefecture scale: readings, delegated scopes, background jobs, closed days,
the organisation-wide policy's holiday rule

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from jiseki.gateway.db.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("reading", sa.String(255)))
        batch.create_index("ix_users_reading", ["reading", "id"])
    op.create_table(
        "admin_scopes",
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("target_id", sa.Integer, primary_key=True),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("options", sa.Text),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("node_id", sa.String(64)),
        sa.Column("result", sa.Text),
        sa.Column("secret_result", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("heartbeat_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )
    op.create_table(
        "closed_days",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("on_holidays", sa.Boolean))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("on_holidays")
    op.drop_table("closed_days")
    op.drop_table("jobs")
    op.drop_table("admin_scopes")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_reading")
        batch.drop_column("reading")
