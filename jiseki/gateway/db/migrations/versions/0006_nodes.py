"""gateway nodes; which node holds an agent's control channel and relays a session

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from jiseki.gateway.db.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("url", sa.String(255), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("draining", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("control_node", sa.String(64)))
        batch.create_index("ix_hosts_control_node", ["control_node"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("node_id", sa.String(64)))
        batch.create_index("ix_sessions_node_id", ["node_id"])


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_node_id")
        batch.drop_column("node_id")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_index("ix_hosts_control_node")
        batch.drop_column("control_node")
    op.drop_table("nodes")
