"""blob_data: the bytes of small blobs, kept in the metadata database

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_data",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["blobs.sha256"]),
        sa.PrimaryKeyConstraint("sha256"),
    )


def downgrade() -> None:
    # Refuses to drop stored bytes: move them to the blob store first (none of our tools
    # does that yet, so a downgrade is only possible with inline_max_bytes=0 from the start).
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM blob_data LIMIT 1")).first() is not None:
        raise RuntimeError("blob_data holds file bytes; downgrading below 0005 would lose them.")
    op.drop_table("blob_data")
