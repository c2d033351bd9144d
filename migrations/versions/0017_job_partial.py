"""A job with some failed items ends ``partial``: index_jobs.status admits it.

A job whose every item failed was ``succeeded`` and ``anyseek index`` exited 0 on an empty
collection (issue 71). One rule now (``anyseek.indexer.jobs.finished_status``): no failure is
``succeeded``, failures beside indexed items ``partial``, failures and nothing indexed ``failed``.
The jobs already finished keep the status they had.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27 19:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("queued", "running", "succeeded", "failed", "cancelled")
AFTER = ("queued", "running", "succeeded", "partial", "failed", "cancelled")


def _allow(statuses: tuple[str, ...]) -> None:
    """Replace index_jobs' status check with one that admits ``statuses``."""
    listed = ", ".join(f"'{status}'" for status in statuses)
    with op.batch_alter_table("index_jobs") as batch:
        batch.drop_constraint(op.f("ck_index_jobs_job_status"), type_="check")
        batch.create_check_constraint("job_status", f"status IN ({listed})")


def upgrade() -> None:
    """Admit ``partial`` in index_jobs.status."""
    _allow(AFTER)


def downgrade() -> None:
    """Back to five statuses; a ``partial`` job reads ``succeeded`` (it indexed items)."""
    op.execute("UPDATE index_jobs SET status = 'succeeded' WHERE status = 'partial'")
    _allow(BEFORE)
