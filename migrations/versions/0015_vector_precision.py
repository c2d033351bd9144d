"""The precision that made a collection's vectors: model_precision of versions and collections.

Gallery vectors are computed in float32 or bfloat16 (``ANYSEEK_MODEL__PRECISION``, issue 68); the
two differ slightly (docs/models.md), so which one made a version's vectors is kept beside the
model that made them: ``float32``, ``bfloat16`` (``float16`` for a model loaded in it), ``mixed``
when jobs of both added to one version; NULL for vectors made before it was recorded.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 19:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("collection_versions", "collections")


def upgrade() -> None:
    """Add model_precision to both tables."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("model_precision", sa.String(16), nullable=True))


def downgrade() -> None:
    """Drop model_precision from both tables."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("model_precision")
