"""files.md5 and blobs.md5 nullable: a large upload's md5 is computed after it is answered

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 04:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("blobs", "files"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("md5", existing_type=sa.String(length=32), nullable=True)
    op.create_index(
        "ix_blobs_md5_pending",
        "blobs",
        ["sha256"],
        sqlite_where=sa.text("md5 IS NULL"),
        postgresql_where=sa.text("md5 IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_blobs_md5_pending", table_name="blobs")
    # Rows still waiting for their md5 cannot satisfy NOT NULL: fill them first
    # (`vlmfiles fsck` does, as does a running server within a sweep interval).
    for table in ("files", "blobs"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("md5", existing_type=sa.String(length=32), nullable=False)
