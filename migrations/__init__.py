"""Alembic migrations of the metadata database; run them with ``anyseek db upgrade``."""
