"""how each office PC's agent runs: as the Windows service or as a process started by hand

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("agent_service", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("agent_service")
