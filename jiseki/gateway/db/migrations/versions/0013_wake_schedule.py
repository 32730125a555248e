"""scheduled power-on: the policy setting `wake_before_minutes`

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("wake_before_minutes", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("wake_before_minutes")
