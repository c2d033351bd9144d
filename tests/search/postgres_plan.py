"""The plan PostgreSQL picks for a statement over ``items``, read the way the plan tests ask it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql

from anyseek.db.session import Database


def items_plan(database: Database, statement: Any) -> str:
    """``EXPLAIN`` of ``statement`` (its parameters inlined) after ``ANALYZE items``, with
    sequential scans off: the tests' tables are small, and the question is whether the index
    answers it."""
    sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    with database.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE items")
        connection.exec_driver_sql("SET enable_seqscan = off")
        return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))
