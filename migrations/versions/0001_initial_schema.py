"""Initial schema: embedding spaces, collections, items, their embeddings, and index jobs.

Enum columns are plain VARCHARs with named CHECK constraints (the same DDL SQLAlchemy emits for
``Enum(native_enum=False, create_constraint=True)``), written out so this script does not depend on
the naming convention of the models it was generated from.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 12:17:22.849240
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=True),
        sa.Column("model_version", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
        sa.UniqueConstraint("name", name=op.f("uq_collections_name")),
    )
    op.create_table(
        "embedding_spaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("dim > 0", name=op.f("ck_embedding_spaces_dim_positive")),
        sa.CheckConstraint(
            "metric IN ('cosine', 'dot', 'l2')", name=op.f("ck_embedding_spaces_metric")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embedding_spaces")),
        sa.UniqueConstraint(
            "name",
            "model_name",
            "model_version",
            name=op.f("uq_embedding_spaces_name_model_name_model_version"),
        ),
    )
    op.create_table(
        "collection_spaces",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_collection_spaces_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["embedding_spaces.id"],
            name=op.f("fk_collection_spaces_space_id_embedding_spaces"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("collection_id", "space_id", name=op.f("pk_collection_spaces")),
    )
    op.create_index(op.f("ix_collection_spaces_space_id"), "collection_spaces", ["space_id"])

    op.create_table(
        "index_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "total >= 0 AND done >= 0 AND failed >= 0 AND skipped >= 0",
            name=op.f("ck_index_jobs_counts_non_negative"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_index_jobs_job_status"),
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_index_jobs_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_jobs")),
    )
    op.create_index(
        op.f("ix_index_jobs_collection_id_created_at"),
        "index_jobs",
        ["collection_id", "created_at"],
    )

    op.create_table(
        "items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("height IS NULL OR height > 0", name=op.f("ck_items_height_positive")),
        sa.CheckConstraint("width IS NULL OR width > 0", name=op.f("ck_items_width_positive")),
        sa.CheckConstraint(
            "status IN ('pending', 'indexed', 'failed')", name=op.f("ck_items_item_status")
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_items_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("collection_id", "sha256", name=op.f("uq_items_collection_id_sha256")),
    )
    op.create_index(op.f("ix_items_collection_id_status"), "items", ["collection_id", "status"])

    op.create_table(
        "item_embeddings",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_item_embeddings_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["embedding_spaces.id"],
            name=op.f("fk_item_embeddings_space_id_embedding_spaces"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("item_id", "space_id", name=op.f("pk_item_embeddings")),
    )
    op.create_index(op.f("ix_item_embeddings_space_id"), "item_embeddings", ["space_id"])


def downgrade() -> None:
    """Drop every table, children first."""
    op.drop_index(op.f("ix_item_embeddings_space_id"), table_name="item_embeddings")
    op.drop_table("item_embeddings")
    op.drop_index(op.f("ix_items_collection_id_status"), table_name="items")
    op.drop_table("items")
    op.drop_index(op.f("ix_index_jobs_collection_id_created_at"), table_name="index_jobs")
    op.drop_table("index_jobs")
    op.drop_index(op.f("ix_collection_spaces_space_id"), table_name="collection_spaces")
    op.drop_table("collection_spaces")
    op.drop_table("embedding_spaces")
    op.drop_table("collections")
