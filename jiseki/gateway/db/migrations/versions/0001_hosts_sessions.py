"""hosts and sessions

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from jiseki.gateway.db.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("cert_fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("cert_serial", sa.String(64), nullable=False),
        sa.Column("hostname", sa.String(255)),
        sa.Column("os", sa.String(255)),
        sa.Column("online", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_seen", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("host_id", sa.String(64), sa.ForeignKey("hosts.id"), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("end_reason", sa.String(32)),
        sa.Column("viewer_address", sa.String(64)),
        sa.Column("bytes_to_viewer", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("bytes_to_agent", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updates", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("sessions")
    op.drop_table("hosts")
