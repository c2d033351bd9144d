"""Job heartbeat: when the process running an in-process index job last said it was alive.

A job whose process was killed stayed ``running`` forever; with a heartbeat, a job whose beat is
older than ``ANYSEEK_INDEXER__HEARTBEAT_STALE_S`` is known dead: the server resumes it at start,
and listing jobs marks it failed (issue 24). Jobs run by workers have no heartbeat (NULL).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add index_jobs.heartbeat_at."""
    with op.batch_alter_table("index_jobs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop index_jobs.heartbeat_at."""
    with op.batch_alter_table("index_jobs") as batch:
        batch.drop_column("heartbeat_at")
