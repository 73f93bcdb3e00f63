"""feedback: a user's correction or note, stored next to the prediction it is about

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_feedback_tenant_request", "feedback", ["tenant_id", "request_id", "created_us", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_tenant_request", table_name="feedback")
    op.drop_table("feedback")
