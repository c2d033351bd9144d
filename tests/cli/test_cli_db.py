"""The ``db``, ``collections`` and ``demo`` commands through the real entry point."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from anyseek.cli import main
from anyseek.db import migrate, repository
from anyseek.db.models import IndexJob
from anyseek.db.session import database_from_url

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    """What one CLI call did."""

    code: int
    out: str
    err: str


Cli = Callable[..., Run]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Where the CLI keeps its data in these tests (not created beforehand)."""
    return tmp_path / "data"


@pytest.fixture
def cli(data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Cli:
    """Run ``anyseek ARGS`` in-process with a clean ``ANYSEEK_*`` environment."""
    for key in list(os.environ):
        if key.startswith("ANYSEEK_") and key != "ANYSEEK_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(data_dir))

    def run(*args: str, stdin: str = "", **env: str) -> Run:
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_one_line_error(run: Run, *fragments: str) -> None:
    """A failed command: non-zero exit, exactly one ``error:`` line naming the problem."""
    assert run.code != 0
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    for fragment in fragments:
        assert fragment in lines[0]


def test_collections_lifecycle(cli: Cli, data_dir: Path) -> None:
    assert "not initialised" in cli("db", "current").out
    assert not (data_dir / "anyseek.db").exists()  # looking did not create an empty database
    first = cli("collections", "list")  # the embedded database is created on first use
    assert first.code == 0 and "no collections yet" in first.out, first.err
    assert (data_dir / "anyseek.db").is_file()

    assert "already at" in cli("db", "upgrade").out
    assert "(up to date)" in cli("db", "current").out
    assert cli("collections", "create", "cats").code == 0
    assert cli("collections", "create", "dogs").code == 0
    assert_one_line_error(cli("collections", "create", "cats"), "'cats' already exists")
    assert_one_line_error(cli("collections", "create", "Bad!"), "invalid collection name")

    listed = cli("collections", "list")
    assert [line.split()[0] for line in listed.out.splitlines()] == ["name", "cats", "dogs"]
    assert '"name": "dogs"' in cli("collections", "list", "--json").out

    assert_one_line_error(
        cli("collections", "delete", "birds", "--yes"), "no collection named 'birds'"
    )
    refused = cli("collections", "delete", "cats", stdin="n\n")
    assert refused.code == 1 and "cats" in cli("collections", "list").out
    assert cli("collections", "delete", "cats", stdin="y\n").code == 0
    assert cli("collections", "delete", "dogs", "-y").out.startswith("deleted collection 'dogs'")
    assert "no collections yet" in cli("collections", "list").out


def test_index_on_a_new_data_directory_needs_no_upgrade(
    cli: Cli, data_dir: Path, tmp_path: Path
) -> None:
    from PIL import Image

    from anyseek.scenes import generate_scene

    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(3):
        Image.fromarray(generate_scene(991_500 + seed, 64).rgb).save(folder / f"{seed}.png")

    run = cli("index", str(folder), "-c", "photos")

    assert run.code == 0, run.err
    assert "3 indexed, 0 failed" in run.out
    assert "photos" in cli("collections", "list").out


def test_out_of_date_sqlite_is_migrated_and_an_unknown_revision_refused(
    cli: Cli, data_dir: Path
) -> None:
    assert cli("db", "upgrade").code == 0
    assert cli("db", "downgrade", "base", "--yes").code == 0  # an older schema (none at all)
    assert "not initialised" in cli("db", "current").out
    assert cli("collections", "create", "x").code == 0  # migrated on the way
    assert "(up to date)" in cli("db", "current").out

    database = database_from_url(f"sqlite:///{data_dir / 'anyseek.db'}")
    with database.engine.begin() as connection:  # as if a newer anyseek had migrated it
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    database.dispose()
    assert_one_line_error(cli("collections", "list"), "f00dcafe", "does not know")
    assert "unknown to this version" in cli("db", "current").out
    assert_one_line_error(cli("db", "upgrade"), "f00dcafe", "does not know")


@pytest.mark.parametrize("command", [("collections", "list"), ("db", "upgrade"), ("demo",)])
def test_unreachable_database_is_one_line_without_the_password(
    cli: Cli, command: tuple[str, ...]
) -> None:
    url = f"postgresql+psycopg://anyseek:s3cret@127.0.0.1:{free_port()}/anyseek"

    run = cli(*command, ANYSEEK_DATABASE_URL=url)

    assert_one_line_error(run, "cannot connect to the database", "127.0.0.1")
    assert "s3cret" not in run.err + run.out


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ANYSEEK_STORE__BACKEND": "nope"}, "ANYSEEK_STORE__BACKEND"),
        ({"ANYSEEK_DATABASE_URL": "not a url"}, "ANYSEEK_DATABASE_URL"),
        ({"ANYSEEK_DATABASE_URL": "nosuchdb://x/y"}, "ANYSEEK_DATABASE_URL"),
    ],
)
def test_invalid_settings_name_the_variable(cli: Cli, env: dict[str, str], named: str) -> None:
    assert_one_line_error(cli("demo", **env), named)


DEMO = ("demo", "--n", "30", "--queries", "10", "--no-serve")


def test_demo_indexes_a_gallery_asks_it_and_shows_what_is_there(cli: Cli, data_dir: Path) -> None:
    first = cli(*DEMO)
    assert first.code == 0, first.err
    assert (data_dir / "anyseek.db").is_file()
    assert f"(schema {migrate.head_revision()})" in first.out
    assert "vector store    faiss, ready" in first.out
    assert "model           builtin" in first.out and "bind (256-d)" in first.out
    assert "30 indexed, 0 already there, 0 failed" in first.out
    table = [line.split() for line in first.out.splitlines()]
    rows = {row[0]: row for row in table if len(row) == 4 and row[1].isdigit()}
    for kind in ("caption", "sketch", "depth", "semseg", "caption+sketch"):
        assert rows[kind][1] == "10", rows[kind]
    assert float(rows["caption"][3]) >= 0.8  # R@10 of a caption in 30 scenes (random: 0.33)
    assert "* marks the scene's own image, the right answer" in first.out  # the example, told
    example = [line.split() for line in first.out.splitlines() if line.startswith("  caption ")]
    assert example and any(t.startswith("*") for t in example[0][1:])  # one its caption finds
    other_way = [line for line in first.out.splitlines() if "the other way round" in line]
    assert other_way and "searches 10 captions (collection 'demo-captions')" in other_way[0]
    assert float(other_way[0].split("R@10 ")[1].split(";")[0]) >= 0.8  # a photo finds its caption

    assert cli("collections", "create", "holiday").code == 0
    database = database_from_url(f"sqlite:///{data_dir / 'anyseek.db'}")
    with database.session() as session:
        holiday = repository.get_collection(session, "holiday")
        session.add(IndexJob(collection=holiday, source="./photos", total=9, done=4, skipped=1))
    database.dispose()
    second = cli(*DEMO)
    assert second.code == 0
    assert "collection 'demo' already holds the 30 scenes' images" in second.out  # reused
    assert "indexed," not in second.out  # and no job that indexed nothing
    demo_jobs = [line for line in second.out.splitlines() if " demo " in f" {line} "]
    assert len([j for j in demo_jobs if "succeeded" in j]) == 1, demo_jobs
    assert "collections (3)" in second.out  # demo, demo-captions, holiday
    caption_jobs = [line for line in second.out.splitlines() if "demo-captions  succeeded" in line]
    assert len(caption_jobs) == 1, caption_jobs  # the captions indexed once
    jobs = [line.split() for line in second.out.splitlines() if "holiday" in line]
    assert ["holiday", "queued", "4", "0", "1", "9"] in [job[1:7] for job in jobs]


def test_demo_stops_on_a_store_that_is_down_with_one_line(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    run = cli(*DEMO, ANYSEEK_STORE__BACKEND="qdrant", ANYSEEK_STORE__QDRANT_URL=url)

    assert "vector store    qdrant, NOT ready" in run.out
    assert_one_line_error(run, "not reachable")


def test_demo_explains_a_data_directory_it_cannot_create(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    run = cli("demo", ANYSEEK_DATA_DIR=str(blocker / "data"))

    assert_one_line_error(run, "cannot create the folder", str(blocker / "data"))


def test_cli_on_postgresql(cli: Cli, postgres_schema_url: str) -> None:
    def on_pg(*args: str) -> Run:
        return cli(*args, ANYSEEK_DATABASE_URL=postgres_schema_url)

    assert_one_line_error(on_pg("collections", "list"), "not initialised", "anyseek db upgrade")
    assert_one_line_error(on_pg("index", ".", "-c", "x"), "not initialised", "anyseek db upgrade")
    assert on_pg("db", "upgrade").code == 0
    older = migrate.scripts().get_revision(migrate.head_revision()).down_revision
    assert on_pg("db", "downgrade", older, "--yes").code == 0  # as an older anyseek left it
    assert_one_line_error(on_pg("collections", "list"), "at revision", "run `anyseek db upgrade`")
    assert on_pg("db", "upgrade").code == 0
    assert on_pg("collections", "create", "cats").code == 0
    assert_one_line_error(on_pg("collections", "create", "cats"), "already exists")
    assert "cats" in on_pg(*DEMO).out  # the whole main job runs on PostgreSQL too
    assert on_pg("collections", "delete", "cats", "--yes").code == 0


def test_console_entry_point_prints_one_line_and_exits_non_zero(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env |= {"ANYSEEK_DATA_DIR": str(tmp_path / "new"), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "anyseek.cli", "collections", "create", "x"]

    first = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    assert first.returncode == 0, first.stderr  # a new data directory, no `anyseek db upgrade`
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == ["error: a collection named 'x' already exists"]
