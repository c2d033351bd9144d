"""Metadata rows that match no image are reported on their job: index_jobs.metadata_unmatched.

A metadata file's rows whose ``path`` named no image of the source were dropped without a word
(issue 55): a typo in a path lost that image's metadata silently. Their count and the first few
(``FILE:LINE (path)``, one a line) are kept on the job, shown by ``anyseek index``, ``anyseek jobs
show`` and the job routes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add index_jobs.metadata_unmatched (0 for the jobs already there) and its first rows."""
    with op.batch_alter_table("index_jobs") as batch:
        batch.add_column(
            sa.Column("metadata_unmatched", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("metadata_unmatched_rows", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("index_jobs") as batch:
        batch.drop_column("metadata_unmatched_rows")
        batch.drop_column("metadata_unmatched")
