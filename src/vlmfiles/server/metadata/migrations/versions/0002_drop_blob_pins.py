"""drop blob_pins: uploads now commit bytes and record under the blob row's lock

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blob_pins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blob_pins_sha256"))
    op.drop_table("blob_pins")


def downgrade() -> None:
    op.create_table(
        "blob_pins",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["blobs.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("blob_pins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blob_pins_sha256"), ["sha256"], unique=False)
