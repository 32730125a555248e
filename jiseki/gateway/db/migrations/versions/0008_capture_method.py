"""how each office PC reads its screen (DXGI, GDI, X11), and why it fell back

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("capture_method", sa.String(16)))
        batch.add_column(sa.Column("capture_note", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("capture_note")
        batch.drop_column("capture_method")
