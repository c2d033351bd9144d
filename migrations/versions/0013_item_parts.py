"""Items of any modality keep their parts: items.parts.

An item was one image file (``source_uri``). An item may now hold several modalities at once (a
depth map, a segmentation, a caption, a photo: issue 51), each a file path or, for a caption, the
text; a re-index reads them again and the page shows them. JSON ``{modality: path or text}``;
NULL for every item that is one image file.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 05:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add items.parts."""
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop items.parts."""
    with op.batch_alter_table("items") as batch:
        batch.drop_column("parts")
