"""directory accounts (LDAP/Active Directory), WebAuthn security keys and passkeys, the second factor
per department

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from jiseki.gateway.db.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="local"))
        batch.add_column(sa.Column("local_password", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("directory_dn", sa.String(1024)))
        batch.add_column(sa.Column("directory_synced_at", UTCDateTime()))
        batch.add_column(sa.Column("webauthn_handle", sa.String(64)))
        batch.create_index("ix_users_webauthn_handle", ["webauthn_handle"], unique=True)
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("challenge", sa.String(128)))
        batch.add_column(sa.Column("challenge_at", UTCDateTime()))
    op.create_table(
        "webauthn_credentials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("sign_count", sa.BigInteger, nullable=False),
        sa.Column("aaguid", sa.String(36)),
        sa.Column("transports", sa.String(255)),
        sa.Column("discoverable", sa.Boolean),
        sa.Column("backed_up", sa.Boolean),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime()),
    )
    op.create_table(
        "directory_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64)),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("node_id", sa.String(64)),
        sa.Column("counts", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("started_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("finished_at", UTCDateTime()),
    )
    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("second_factor", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("second_factor")
    op.drop_table("directory_runs")
    op.drop_table("webauthn_credentials")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("challenge_at")
        batch.drop_column("challenge")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_webauthn_handle")
        for column in ("webauthn_handle", "directory_synced_at", "directory_dn", "local_password", "source"):
            batch.drop_column(column)
