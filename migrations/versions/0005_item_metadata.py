"""User metadata: a JSON object per item, each collection's field registry, the metadata outbox.

Items carry the user's fields (strings, numbers, booleans, lists of strings, dates); each
collection registers its fields with their kinds, which filters are checked against; edits are
staged in ``pending_metadata`` and applied to the vector store's payload by its writer.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Add items.metadata and the metadata_fields and pending_metadata tables."""
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("metadata", sa.JSON(), nullable=True))
    op.create_table(
        "metadata_fields",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_metadata_fields_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", "name", name=op.f("pk_metadata_fields")),
    )
    op.create_table(
        "pending_metadata",
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_pending_metadata_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_pending_metadata_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_pending_metadata")),
    )
    op.create_index(
        op.f("ix_pending_metadata_collection_id"), "pending_metadata", ["collection_id"]
    )


def downgrade() -> None:
    """Drop the metadata tables and items.metadata."""
    op.drop_index(op.f("ix_pending_metadata_collection_id"), table_name="pending_metadata")
    op.drop_table("pending_metadata")
    op.drop_table("metadata_fields")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("metadata")
