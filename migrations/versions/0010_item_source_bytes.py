"""Items keep the bytes of a path that is not UTF-8: items.source_bytes.

A file name that is not UTF-8 (Latin-1 from an old camera card) was indexed, but its item kept only
the name as shown, with the bytes escaped (``caf\\xe9.png``), which names no file: the image route
answered 404 and a re-index failed the item (issue 39). Text columns cannot hold such bytes, so
they are kept in a binary column beside it; NULL for every UTF-8 path.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add items.source_bytes."""
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("source_bytes", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Drop items.source_bytes."""
    with op.batch_alter_table("items") as batch:
        batch.drop_column("source_bytes")
