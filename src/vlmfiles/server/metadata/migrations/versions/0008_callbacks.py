"""callbacks: each prediction's webhook delivery state and the attempts made

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("callback_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("callback_attempts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("callback_attempts")
        batch.drop_column("callback_status")
