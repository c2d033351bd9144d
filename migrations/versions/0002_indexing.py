"""Indexing: job chunks (the unit of work of a task), per-item job failures, the vector outbox.

``index_chunks`` lets a task carry only ``(job_id, seq)`` and makes a redelivered chunk a no-op;
``index_job_failures`` keeps the one-line reason of each failed item; ``pending_vectors`` is the
outbox that the store's single writer applies (see ``indexer/outbox.py``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:29:14.885247
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the three indexing tables."""
    op.create_table(
        "index_chunks",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'done')", name=op.f("ck_index_chunks_chunk_status")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["index_jobs.id"],
            name=op.f("fk_index_chunks_job_id_index_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_index_chunks")),
    )
    op.create_table(
        "index_job_failures",
        sa.Column("id", BigId, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["index_jobs.id"],
            name=op.f("fk_index_job_failures_job_id_index_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_job_failures")),
        sa.UniqueConstraint(
            "job_id", "source_uri", name=op.f("uq_index_job_failures_job_id_source_uri")
        ),
    )
    op.create_table(
        "pending_vectors",
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("vectors", sa.LargeBinary(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_pending_vectors_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_pending_vectors_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["index_jobs.id"],
            name=op.f("fk_pending_vectors_job_id_index_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_pending_vectors")),
    )
    with op.batch_alter_table("pending_vectors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_vectors_collection_id_item_id"),
            ["collection_id", "item_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_pending_vectors_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    """Drop the indexing tables."""
    with op.batch_alter_table("pending_vectors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_vectors_job_id"))
        batch_op.drop_index(batch_op.f("ix_pending_vectors_collection_id_item_id"))
    op.drop_table("pending_vectors")
    op.drop_table("index_job_failures")
    op.drop_table("index_chunks")
