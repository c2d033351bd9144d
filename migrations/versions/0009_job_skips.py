"""Skipped entries listed on their job: index_job_failures.skipped.

A folder's entries that were not indexed (a name outside the include globs, a link out of the
folder, a folder link that loops, a folder that cannot be listed, an image already in the
collection) were counted at most, never named: the user could not tell why an image was missing
(issue 39). They are now rows beside the job's failures, marked ``skipped``; rows written before
are failures.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add index_job_failures.skipped (false for the failures already there)."""
    with op.batch_alter_table("index_job_failures") as batch:
        batch.add_column(
            sa.Column("skipped", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    """Drop index_job_failures.skipped (and the skipped rows, which were never failures)."""
    op.execute(sa.text("DELETE FROM index_job_failures WHERE skipped"))
    with op.batch_alter_table("index_job_failures") as batch:
        batch.drop_column("skipped")
