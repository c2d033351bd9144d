"""Notes of indexed entries listed on their job: index_job_failures.noted.

An image whose EXIF held a value anyseek could not read (an impossible date, a latitude of 200,
half a GPS position) is indexed without that field, and the reason was only logged, where neither
`anyseek index`, `jobs show` nor `GET /v1/jobs/N` showed it (issue 68). The reason is now a row
beside the job's failures and skips, marked ``noted``: the entry was indexed all the same.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 20:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add index_job_failures.noted (false for the rows already there)."""
    with op.batch_alter_table("index_job_failures") as batch:
        batch.add_column(
            sa.Column("noted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    """Drop index_job_failures.noted (and the notes, which were never failures)."""
    op.execute(sa.text("DELETE FROM index_job_failures WHERE noted"))
    with op.batch_alter_table("index_job_failures") as batch:
        batch.drop_column("noted")
