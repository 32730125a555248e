"""policies per department and host group

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from jiseki.gateway.db.models import UTCDateTime

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target_id", sa.Integer, nullable=False),
        sa.Column("clipboard", sa.String(16)),
        sa.Column("clipboard_max_bytes", sa.Integer),
        sa.Column("view_only", sa.Boolean),
        sa.Column("idle_minutes", sa.Integer),
        sa.Column("max_minutes", sa.Integer),
        sa.Column("days", sa.String(64)),
        sa.Column("start", sa.String(5)),
        sa.Column("end", sa.String(5)),
        sa.Column("conflict", sa.String(16)),
        sa.Column("watermark", sa.Boolean),
        sa.Column("lock_on_end", sa.Boolean),
        sa.Column("curtain", sa.Boolean),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(64)),
        sa.UniqueConstraint("scope", "target_id", name="uq_policies_scope_target"),
    )
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("host_group_id", sa.Integer, sa.ForeignKey("host_groups.id", name="fk_hosts_group")))
        batch.create_index("ix_hosts_host_group_id", ["host_group_id"])


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_index("ix_hosts_host_group_id")
        batch.drop_column("host_group_id")
    op.drop_table("policies")
    op.drop_table("host_groups")
