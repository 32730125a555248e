"""trust: certificates, terminals, staff, assignments, web sessions, enrollment, audit events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from jiseki.gateway.db.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("serial", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False, index=True),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), index=True),
        sa.Column("revoked_reason", sa.String(255)),
    )
    op.create_table(
        "terminals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("cert_fingerprint", sa.String(64), unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime()),
        sa.Column("last_seen_address", sa.String(64)),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id"), index=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("password_changed_at", UTCDateTime(), nullable=False),
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("totp_secret", sa.String(255)),
        sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("totp_last_step", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", UTCDateTime()),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_login_at", UTCDateTime()),
    )
    op.create_table(
        "assignments",
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "host_id", sa.String(64), sa.ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True, index=True
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("terminal_id", sa.String(64), sa.ForeignKey("terminals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "enrollment_tokens",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("host_id", sa.String(64), nullable=False),
        sa.Column("host_name", sa.String(255), nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime()),
        sa.Column("used_by_address", sa.String(64)),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", UTCDateTime(), nullable=False, index=True),
        sa.Column("kind", sa.String(48), nullable=False, index=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64)),
        sa.Column("subject", sa.String(128)),
        sa.Column("address", sa.String(64)),
        sa.Column("details", sa.Text),
    )
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("user_id", sa.String(64)))
        batch.add_column(sa.Column("terminal_id", sa.String(64)))
        batch.create_index("ix_sessions_user_id", ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_user_id")
        batch.drop_column("terminal_id")
        batch.drop_column("user_id")
    for table in (
        "audit_events",
        "enrollment_tokens",
        "web_sessions",
        "assignments",
        "users",
        "departments",
        "terminals",
        "certificates",
    ):
        op.drop_table(table)
