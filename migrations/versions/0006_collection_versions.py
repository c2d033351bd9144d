"""Collection versions: every set of a collection's vectors with the model that made it.

``collection_versions`` holds one row per version (model source, name and content hash, store
collection, building or ready); ``collections.current_version`` names the one searches use, so a
switch is one UPDATE. Existing collections get version 1, in their existing store collection.
``pending_vectors.version`` says which version staged vectors belong to.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create collection_versions, add the current-version and staged-version columns, and
    record version 1 of every collection indexed so far."""
    op.create_table(
        "collection_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("model_source", sa.Text(), nullable=True),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("store_name", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("number > 0", name=op.f("ck_collection_versions_number_positive")),
        sa.CheckConstraint(
            "status IN ('building', 'ready')", name=op.f("ck_collection_versions_version_status")
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_collection_versions_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["index_jobs.id"],
            name=op.f("fk_collection_versions_job_id_index_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_versions")),
        sa.UniqueConstraint(
            "collection_id", "number", name=op.f("uq_collection_versions_collection_id_number")
        ),
    )
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("current_version", sa.Integer(), nullable=True))
    with op.batch_alter_table("pending_vectors") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))
    op.execute(
        "INSERT INTO collection_versions (collection_id, number, model_source, model_name, "
        "model_version, store_name, status, created_at, built_at) "
        "SELECT id, 1, NULL, model_name, model_version, name, 'ready', created_at, created_at "
        "FROM collections WHERE model_name IS NOT NULL"
    )
    op.execute("UPDATE collections SET current_version = 1 WHERE model_name IS NOT NULL")


def downgrade() -> None:
    """Drop the versions (the current version's vectors stay in their store collection)."""
    with op.batch_alter_table("pending_vectors") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("current_version")
    op.drop_table("collection_versions")
