"""Migrations give exactly the ORM schema, step up and down cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from anyseek.db import migrate
from anyseek.db.models import Base
from anyseek.db.session import Database, database_from_url

ROOT = Path(__file__).resolve().parents[3]


def schema_diff(database: Database, metadata: sa.MetaData = Base.metadata) -> list:
    """What Alembic's autogenerate would change to make the database match ``metadata``."""
    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, metadata)


def check_constraint_names(database: Database) -> dict[str, set[str]]:
    """The named CHECK constraints of every table, as the database reports them."""
    with database.engine.connect() as connection:
        inspector = sa.inspect(connection)
        return {
            table: {check["name"] for check in inspector.get_check_constraints(table)}
            for table in Base.metadata.tables
        }


def tables(database: Database) -> set[str]:
    """Table names present in the database."""
    with database.engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


def test_upgrade_head_on_empty_database_gives_the_orm_schema(empty_database: Database) -> None:
    assert migrate.schema_state(empty_database).current is None

    state = migrate.upgrade(empty_database)

    assert state.is_current and state.current == migrate.head_revision()
    assert schema_diff(empty_database) == []
    expected_checks = {
        table.name: {str(c.name) for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        for table in Base.metadata.tables.values()
    }
    assert check_constraint_names(empty_database) == expected_checks
    assert expected_checks["items"] >= {"ck_items_item_status", "ck_items_width_positive"}


def test_the_comparison_sees_a_model_change(database: Database) -> None:
    """Guard for the test above: a column missing from the migrations must show up as a diff."""
    changed = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["items"].append_column(sa.Column("caption", sa.Text(), nullable=True))

    diff = schema_diff(database, changed)

    assert [(op[0], op[2], op[3].name) for op in diff] == [("add_column", "items", "caption")]


def test_item_ids_are_64_bit_on_postgresql(database: Database) -> None:
    with database.engine.connect() as connection:
        columns = {c["name"]: c for c in sa.inspect(connection).get_columns("items")}
    expected = sa.Integer if database.engine.dialect.name == "sqlite" else sa.BigInteger
    assert isinstance(columns["id"]["type"], expected)


def test_downgrade_to_base_drops_everything_and_upgrade_works_again(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO collections (name, created_at) VALUES ('before', CURRENT_TIMESTAMP)"
        )

    state = migrate.downgrade(database, "base")

    assert state.current is None
    assert tables(database) <= {"alembic_version"}
    state = migrate.upgrade(database)
    assert state.is_current
    assert schema_diff(database) == []
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM collections").scalar() == 0


def test_every_revision_steps_up_down_and_up_again(empty_database: Database) -> None:
    """The "stairway": each migration's downgrade undoes its upgrade, for every revision."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions[-1] == migrate.head_revision()
    for revision in revisions:
        migrate.upgrade(empty_database, revision)
        migrate.downgrade(empty_database, "-1")
        assert migrate.upgrade(empty_database, revision).current == revision
    assert schema_diff(empty_database) == []


def test_plain_alembic_command_works_with_the_shipped_ini(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    alembic = [sys.executable, "-m", "alembic", "-c", "migrations/alembic.ini", "-x", f"url={url}"]

    upgraded = subprocess.run(
        [*alembic, "upgrade", "head"], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade  -> 0001" in upgraded.stderr  # the ini's logging is in effect
    database = database_from_url(url)
    try:
        assert migrate.schema_state(database).is_current
        assert schema_diff(database) == []
    finally:
        database.dispose()


def test_schema_problems_tell_the_user_what_to_do() -> None:
    head = migrate.head_revision()
    problem = migrate.schema_problem

    assert problem(migrate.SchemaState(current=head, head=head), "db") is None
    assert problem(migrate.SchemaState(None, head), "db") == (
        "the database db is not initialised: run `anyseek db upgrade`"
    )
    older = problem(migrate.SchemaState(head, "9999"), "db")
    assert older == f"the database db is at revision {head} but anyseek needs 9999: " + (
        "run `anyseek db upgrade`"
    )
    newer = problem(migrate.SchemaState("9999", head), "db")
    assert newer is not None and "does not know" in newer and "upgrade anyseek" in newer


def test_a_failing_migration_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    writable = database_from_url(f"sqlite:///{path}")
    migrate.upgrade(writable, "base")  # creates the file with an empty version table
    writable.dispose()
    read_only = database_from_url(f"sqlite:///file:{path}?mode=ro&uri=true")

    try:
        with pytest.raises(migrate.SchemaError, match=r"migrating to 'head' failed: .*readonly"):
            migrate.upgrade(read_only)
        assert migrate.schema_state(read_only).current is None
    finally:
        read_only.dispose()
