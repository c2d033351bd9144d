"""Opening the database the way every entry point does (``open_database``): the embedded SQLite
default is created or migrated on first use, a PostgreSQL database that is missing its schema or
behind is a one-line error saying to run ``anyseek db upgrade``, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from anyseek.db import migrate
from anyseek.db.session import Database, database_for
from anyseek.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _no_developer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's ``ANYSEEK_*`` variables (a database URL, say) stay out of these tests."""
    for key in list(os.environ):
        if key.startswith("ANYSEEK_") and key != "ANYSEEK_REQUIRE_SERVICES":
            monkeypatch.delenv(key)


def _settings(tmp_path: Path, url: str) -> Settings:
    """Settings naming ``url`` as the database, data under ``tmp_path``."""
    return load_settings(data_dir=tmp_path / "data", database_url=url)


def _previous_revision() -> str:
    """The revision just below the code's head: a database an older anyseek left behind."""
    previous = migrate.scripts().get_revision(migrate.head_revision()).down_revision
    assert isinstance(previous, str)
    return previous


@pytest.mark.parametrize("start", ["empty", "older"])
def test_open_database_migrates_sqlite_and_tells_postgresql_to_upgrade(
    tmp_path: Path, database_url: str, empty_database: Database, start: str
) -> None:
    if start == "older":
        migrate.upgrade(empty_database, _previous_revision())
    backend = empty_database.engine.url.get_backend_name()

    if backend == "sqlite":
        opened = migrate.open_database(_settings(tmp_path, database_url))
        try:
            assert migrate.schema_state(opened).is_current
            with opened.session() as session:  # the tables are there, not just the version row
                assert session.execute(text("SELECT count(*) FROM collections")).scalar() == 0
        finally:
            opened.dispose()
    else:
        expected = "not initialised" if start == "empty" else f"at revision {_previous_revision()}"
        with pytest.raises(migrate.SchemaError, match=r"run `anyseek db upgrade`") as error:
            migrate.open_database(_settings(tmp_path, database_url))
        assert expected in str(error.value) and "\n" not in str(error.value)
        assert migrate.schema_state(empty_database).current == (
            None if start == "empty" else _previous_revision()
        )  # left as it was: migrating a shared server database is its operator's decision


def test_a_new_data_directory_is_created_with_its_database(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "new" / "data")

    opened = migrate.open_database(settings)

    try:
        assert (tmp_path / "new" / "data" / "anyseek.db").is_file()
        assert migrate.schema_state(opened).is_current
    finally:
        opened.dispose()


def test_sqlite_at_a_revision_this_code_does_not_know_is_refused_untouched(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    migrate.open_database(settings).dispose()
    database = database_for(settings)
    with database.engine.begin() as connection:  # as if a newer anyseek had migrated it
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))

    with pytest.raises(migrate.SchemaError, match=r"f00dcafe.*does not know"):
        migrate.open_database(settings)
    assert migrate.schema_state(database).current == "f00dcafe"
    database.dispose()


OPEN_ON_GO = """
import os, sys, time
from pathlib import Path
from anyseek.db.migrate import open_database, schema_state
from anyseek.settings import load_settings
settings, barrier = load_settings(data_dir=sys.argv[1]), Path(sys.argv[2])
(barrier / f"ready-{os.getpid()}").touch()
while not (barrier / "go").exists():  # every process at once, its imports done
    time.sleep(0.01)
print(schema_state(open_database(settings)).current)
"""


def test_processes_starting_together_on_a_new_data_directory_all_open_it(tmp_path: Path) -> None:
    """``anyseek serve`` and its workers may start at once: one migrates, the others wait."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    command = [sys.executable, "-c", OPEN_ON_GO, str(tmp_path / "data"), str(barrier)]
    started = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < len(started) and time.monotonic() < deadline:
        time.sleep(0.05)
    (barrier / "go").touch()
    done = [(p.wait(timeout=120), *p.communicate()) for p in started]
    for code, out, err in done:
        assert code == 0, err.decode()
        assert out.decode().strip() == migrate.head_revision()
