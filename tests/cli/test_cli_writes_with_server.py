"""CLI writes while ``anyseek serve`` (a real process) holds the FAISS writer of the same data
directory, on SQLite and on PostgreSQL: ``collections rollback`` and ``reindex`` run through the
server and leave one consistent current version; ``index`` is refused before it writes a job;
``collections create`` and ``delete`` go through the server too, all of it (vectors, alias,
thumbnails)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from derived_model import derived_bundle, reindex_in_process
from PIL import Image
from server_process import HTTP, free_port, start_server
from sqlalchemy import func, select

from anyseek.cli import main
from anyseek.db import migrate, versions
from anyseek.db.models import IndexJob
from anyseek.db.session import database_for
from anyseek.indexer import run_index
from anyseek.scenes import generate_scene
from anyseek.search.stores import open_store
from anyseek.settings import Settings, load_settings

COLLECTION, KEY = "photos", "k1"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for the data directory's SQLite file, else a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_schema_url")


def settings_env(settings: Settings) -> dict[str, str]:
    """The ANYSEEK_* variables the server and the commands share."""
    return {
        "ANYSEEK_DATA_DIR": str(settings.data_dir),
        "ANYSEEK_DATABASE_URL": settings.effective_database_url,
        "ANYSEEK_API__API_KEYS": json.dumps([KEY]),
        "ANYSEEK_MODEL__DEVICE": "cpu",
        "ANYSEEK_INDEXER__FLUSH_INTERVAL_S": "0",
    }


def two_versions(settings: Settings, images: Path, model, source: str) -> None:
    """``photos`` indexed with the built-in model, then re-indexed with ``source`` (version 2)."""
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    images.mkdir()
    for seed in range(6):
        Image.fromarray(generate_scene(seed, 64).rgb).save(images / f"scene{seed}.png")
    database.dispose()
    run_index(settings, COLLECTION, images, model=model)
    reindex_in_process(settings, model, COLLECTION, source)


def state(settings: Settings) -> tuple[list[tuple[int, bool, str]], str | None, dict[str, int]]:
    """(number, current, status) of each version, the store alias's target, jobs by status."""
    database, store = database_for(settings), open_store(settings)
    try:
        with database.session() as session:
            found = [
                (v.number, v.current, v.status) for v in versions.describe(session, COLLECTION)
            ]
            counted = select(IndexJob.status, func.count()).group_by(IndexJob.status)
            jobs = {status.value: count for status, count in session.execute(counted).all()}
        alias = store.alias_target(versions.alias_name(COLLECTION))
    finally:
        store.close()
        database.dispose()
    return found, alias, jobs


def gone(settings: Settings) -> tuple[list[str], str | None, bool]:
    """What is left of the collection: its store collections, its alias, its thumbnails."""
    store = open_store(settings)
    try:
        names = [n for n in store.collections() if n.startswith(COLLECTION)]
        alias = store.alias_target(versions.alias_name(COLLECTION))
    finally:
        store.close()
    return names, alias, (settings.data_dir / "thumbnails" / COLLECTION).exists()


def test_cli_rollback_and_reindex_go_through_the_server_holding_the_writer(
    tmp_path, database_url, search_model, monkeypatch, capsys
) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", database_url=database_url, model={"device": "cpu"}
    )
    source = str(derived_bundle(tmp_path / "models"))
    two_versions(settings, tmp_path / "images", search_model, source)
    env = settings_env(settings)
    for key in [k for k in os.environ if k.startswith("ANYSEEK_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    port = free_port()
    server = start_server(env, port, tmp_path / "serve.log")
    try:
        made = HTTP.post(
            f"http://127.0.0.1:{port}/v1/collections",
            json={"name": "other"},
            headers={"X-API-Key": KEY},
        )
        assert made.status_code == 201, made.text  # the server now holds the writer

        assert main(["collections", "rollback", COLLECTION]) == 0
        found, alias, jobs = state(settings)
        assert [(n, current) for n, current, _ in found] == [(1, True), (2, False)]
        assert alias == COLLECTION and set(jobs) == {"succeeded"}

        assert main(["reindex", COLLECTION, "--model", source]) == 0
        found, alias, jobs = state(settings)
        assert found == [(2, False, "ready"), (3, True, "ready")]  # version 1 past retention
        assert alias == f"{COLLECTION}@v3" and set(jobs) == {"succeeded"}
        capsys.readouterr()

        assert main(["index", str(tmp_path / "images"), "--collection", COLLECTION]) == 1
        refused = capsys.readouterr().err
        assert f"a server (pid {server.pid}, http://127.0.0.1:{port}) holds the writer" in refused
        assert (
            "nothing changed" in refused and f"POST /v1/collections/{COLLECTION}/items" in refused
        )
        assert state(settings) == (found, alias, jobs)  # no job written
        depth = ["index", str(tmp_path / "images"), "-c", "maps", "--modality", "depth"]
        assert main(depth) == 1  # the advice names the form field a depth map's upload needs
        assert "/v1/collections/maps/items with the form field modality=depth" in (
            capsys.readouterr().err
        )

        assert main(["collections", "create", "third"]) == 0  # made by the server, store too
        assert main(["collections", "delete", COLLECTION, "--yes"]) == 0
        assert gone(settings) == ([], None, False)
        store = open_store(settings)
        try:
            assert "third" in store.collections()
        finally:
            store.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
