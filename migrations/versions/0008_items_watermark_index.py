"""Items indexed by (collection, status, id): the newest indexed id of a collection in one probe.

Every search's first page reads that id (its paging snapshot, ``anyseek.search.snapshots``). With
the index on (collection_id, status) alone, PostgreSQL scanned every indexed row of the collection
for it: 170 ms a search at one million items (SQLite, whose indexes end with the row id, took 0.4
ms). The new index also serves every query the old one did, so the old one goes (issue 29).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 23:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Replace ix_items_collection_id_status by ix_items_collection_id_status_id."""
    op.create_index(
        op.f("ix_items_collection_id_status_id"), "items", ["collection_id", "status", "id"]
    )
    op.drop_index(op.f("ix_items_collection_id_status"), table_name="items")


def downgrade() -> None:
    """Back to the (collection_id, status) index."""
    op.create_index(op.f("ix_items_collection_id_status"), "items", ["collection_id", "status"])
    op.drop_index(op.f("ix_items_collection_id_status_id"), table_name="items")
