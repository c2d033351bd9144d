"""Collection priors: each collection's space priors for its model version (official 4M models).

Query information (what fusion across spaces weighs by) is measured against what the model
predicts for a typical image of the collection; the indexer estimates it from the collection's
first images and keeps it here, next to the model version it belongs to.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the collection_priors table."""
    op.create_table(
        "collection_priors",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("priors", sa.LargeBinary(), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("images > 0", name=op.f("ck_collection_priors_images_positive")),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_collection_priors_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", name=op.f("pk_collection_priors")),
    )


def downgrade() -> None:
    """Drop the collection_priors table."""
    op.drop_table("collection_priors")
