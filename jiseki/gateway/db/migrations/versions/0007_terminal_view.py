"""terminal preferences of the viewer: zoom, and the office PC layout the terminal was told about

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("terminals") as batch:
        batch.add_column(sa.Column("view_zoom", sa.String(8)))
        batch.add_column(sa.Column("layout_told", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("layout_told")
        batch.drop_column("view_zoom")
