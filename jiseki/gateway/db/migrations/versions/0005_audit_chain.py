"""audit hash chain (seq, prev_hash, hash; anchor and state tables), recordings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from jiseki.gateway.db.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger))
        batch.add_column(sa.Column("prev_hash", sa.String(64)))
        batch.add_column(sa.Column("hash", sa.String(64)))
        batch.create_unique_constraint("uq_audit_events_seq", ["seq"])
    op.create_table(
        "audit_anchor",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("purged_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("purged_at", UTCDateTime()),
    )
    op.create_table(
        "audit_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.create_table(
        "recordings",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("duration_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("frames", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("deleted_at", UTCDateTime()),
        sa.Column("deleted_by", sa.String(64)),
    )
    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("record", sa.Boolean))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("record")
    op.drop_table("recordings")
    op.drop_table("audit_state")
    op.drop_table("audit_anchor")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_events_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
