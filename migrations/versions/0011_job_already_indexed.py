"""Images already in the collection are counted on their job: index_jobs.already_indexed.

A re-run of ``anyseek index`` on a folder wrote one skip row per image the collection already
held: a nightly re-run of a million images added a million rows (issue 55). Those skips need no
one to act, so they are only counted now (also in ``skipped``); rows stay for the skips a person
must act on. The rows written before are left as they are.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add index_jobs.already_indexed (0 for the jobs already there)."""
    with op.batch_alter_table("index_jobs") as batch:
        batch.add_column(
            sa.Column("already_indexed", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    """Drop index_jobs.already_indexed (the count stays in ``skipped``)."""
    with op.batch_alter_table("index_jobs") as batch:
        batch.drop_column("already_indexed")
