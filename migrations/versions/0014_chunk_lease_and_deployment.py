"""Chunk leases and the deployment's identity: index_chunks.owner and lease_until; deployment.

A worker claimed its chunk by holding the job's row lock in an open transaction, so a frozen
worker (SIGSTOP, a paused VM) stopped every other worker and the writer (issue 74): a chunk is now
claimed by a lease, its owner and a deadline it renews, and sent again once the lease runs out.
Tasks carried no deployment, so two deployments on one broker ran each other's chunks (issue 73):
the one-row ``deployment`` table holds a random id every task names.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 19:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add index_chunks.owner and lease_until, and the deployment table."""
    with op.batch_alter_table("index_chunks") as batch:
        batch.add_column(sa.Column("owner", sa.String(255), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("installation_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the deployment table and the chunk lease columns."""
    op.drop_table("deployment")
    with op.batch_alter_table("index_chunks") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("owner")
