"""uploads.error_status/error_message: a presigned upload's refusal, told at verify-upload

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_status", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("error_message", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_column("error_message")
        batch_op.drop_column("error_status")
