"""console: language preference, host lock state and agent details, admin-ended sessions,
staged CSV imports, and the indexes the console's lists and dashboard need

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from jiseki.gateway.db.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(8)))
        batch.create_index("ix_users_display_name", ["display_name", "id"])
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("agent_version", sa.String(64)))
        batch.add_column(sa.Column("signed_in_user", sa.String(255)))
        batch.create_index("ix_hosts_name", ["name", "id"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("end_message", sa.String(255)))
        batch.add_column(sa.Column("ended_by", sa.String(64)))
        batch.add_column(sa.Column("reconnect_after", UTCDateTime()))
        batch.create_index("ix_sessions_state", ["state"])
        batch.create_index("ix_sessions_started_at", ["started_at"])
        batch.create_index("ix_sessions_ended_at", ["ended_at"])
    with op.batch_alter_table("audit_events") as batch:
        batch.create_index("ix_audit_events_actor", ["actor"])
        batch.create_index("ix_audit_events_subject", ["subject"])
    op.create_table(
        "staged_imports",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("staged_imports")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_subject")
        batch.drop_index("ix_audit_events_actor")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_ended_at")
        batch.drop_index("ix_sessions_started_at")
        batch.drop_index("ix_sessions_state")
        batch.drop_column("reconnect_after")
        batch.drop_column("ended_by")
        batch.drop_column("end_message")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_index("ix_hosts_name")
        batch.drop_column("signed_in_user")
        batch.drop_column("agent_version")
        batch.drop_column("locked")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_display_name")
        batch.drop_column("language")
