"""Near-duplicates: a per-collection threshold, and links from each near-duplicate image to the
first item of its group with their similarity.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add collections.near_duplicate_threshold and the near_duplicates table."""
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("near_duplicate_threshold", sa.Float(), nullable=True))
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "near_duplicates",
        sa.Column("item_id", big_id, nullable=False),
        sa.Column("original_id", big_id, nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("item_id <> original_id", name=op.f("ck_near_duplicates_not_itself")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_near_duplicates_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["original_id"],
            ["items.id"],
            name=op.f("fk_near_duplicates_original_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_near_duplicates")),
    )
    op.create_index(
        op.f("ix_near_duplicates_original_id"), "near_duplicates", ["original_id"], unique=False
    )


def downgrade() -> None:
    """Drop the near_duplicates table and the threshold column."""
    op.drop_index(op.f("ix_near_duplicates_original_id"), table_name="near_duplicates")
    op.drop_table("near_duplicates")
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("near_duplicate_threshold")
