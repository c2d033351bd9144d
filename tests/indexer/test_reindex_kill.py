"""``kill -9`` during a re-index and during the switch: the re-index resumes where the store says
it stopped; a switch killed at any point leaves exactly one current version, consistent with its
model and (after ``sync_alias``) with the store alias."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from derived_model import derived_bundle
from indexing_images import write_good_images
from reindex_answers import CAPTIONS, COLLECTION, answer

from anyseek.cli import main
from anyseek.db import versions
from anyseek.db.migrate import open_database
from anyseek.db.models import IndexJob
from anyseek.indexer import run_index
from anyseek.indexer.reindex import run_reindex, start_reindex
from anyseek.indexer.version_switch import rollback, sync_alias
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.searcher import Searcher
from anyseek.search.stores import open_store
from anyseek.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a child ``anyseek`` for these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env.update(
        ANYSEEK_DATA_DIR=str(settings.data_dir),
        ANYSEEK_MODEL__DEVICE="cpu",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def _job_done(settings: Settings, job_id: int | None) -> int:
    """Items the newest (or the given) job has done, read from the database."""
    database = open_database(settings)
    try:
        with database.session() as session:
            job = session.get(IndexJob, job_id) if job_id else None
            return job.done if job is not None else 0
    finally:
        database.dispose()


@pytest.mark.slow
def test_a_reindex_killed_with_sigkill_resumes_and_finishes(
    ready_settings: Settings, search_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ready_settings
    run_index(settings, COLLECTION, write_good_images(tmp_path / "images", 12), model=search_model)
    source = str(derived_bundle(tmp_path / "models"))
    env = _env(settings, ANYSEEK_INDEXER__REINDEX_BATCH="1")
    child = subprocess.Popen(
        [sys.executable, "-m", "anyseek.cli", "reindex", COLLECTION, "--model", source],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    job_id = None
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and child.poll() is None:
            database = open_database(settings)
            with database.session() as session:
                found = versions.building_version(
                    session, versions._collection(session, COLLECTION)
                )
                job_id = found.job_id if found is not None else job_id
            database.dispose()
            if job_id and _job_done(settings, job_id) >= 3:
                break
            time.sleep(0.05)
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    halfway = _job_done(settings, job_id)
    assert 3 <= halfway < 12

    for key, value in env.items():  # the same command again, in this process
        if key.startswith("ANYSEEK_"):
            monkeypatch.setenv(key, value)
    assert main(["reindex", COLLECTION, "--model", source]) == 0

    database = open_database(settings)
    store = open_store(settings)
    try:
        with database.session() as session:
            listed = versions.describe(session, COLLECTION)
            job = session.get(IndexJob, job_id)
            assert (job.status.value, job.done, job.total) == ("succeeded", 12, 12)
        assert [(v.number, v.current, v.job_id) for v in listed] == [
            (1, False, None),
            (2, True, job_id),
        ]
        assert store.count("scenes@v2") == 12
    finally:
        store.close()
        database.dispose()


SWITCHER = textwrap.dedent(
    """
    import sys
    from anyseek.db.migrate import open_database
    from anyseek.settings import load_settings
    from anyseek.indexer.version_switch import switch_version
    from anyseek.search.stores import open_store

    settings = load_settings()
    database, store = open_database(settings), open_store(settings)
    print("ready", flush=True)
    number = 1
    while True:
        number = 3 - number
        switch_version(settings, database, store, "scenes", number)
    """
)


@pytest.mark.slow
def test_a_switch_killed_with_sigkill_leaves_one_consistent_current_version(
    ready_settings: Settings, search_model, tmp_path: Path
) -> None:
    settings = ready_settings.model_copy(
        update={"model": ready_settings.model.model_copy(update={"device": "cpu"})}
    )
    run_index(settings, COLLECTION, write_good_images(tmp_path / "images", 4), model=search_model)
    source = str(derived_bundle(tmp_path / "models"))
    database = open_database(settings)
    registry = ModelRegistry(settings.model, default=search_model)

    def searcher_over(store):
        return Searcher(search_model, store, settings.search, database=database, registry=registry)

    store = open_store(settings)
    answers = {1: {c: answer(searcher_over(store), c) for c in CAPTIONS}}
    with database.session() as session:
        job_id, _ = start_reindex(session, COLLECTION, registry.get(source), source)
    run_reindex(settings, database, store, job_id, registry.get)
    answers[2] = {c: answer(searcher_over(store), c) for c in CAPTIONS}
    rollback(settings, database, store, COLLECTION, registry.get)
    store.close()
    assert answers[1] != answers[2]

    rng = random.Random(0)
    seen = set()
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", SWITCHER],
            env=_env(settings),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert child.stdout.readline().strip() == b"ready", child.stderr.read().decode()
            time.sleep(rng.uniform(0.2, 1.0))  # somewhere among many switches
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(30)
        store = open_store(settings)
        try:
            with database.session() as session:
                listed = versions.describe(session, COLLECTION)
            current = [v.number for v in listed if v.current]
            assert len(current) == 1 and [v.number for v in listed] == [1, 2]
            seen.add(current[0])
            target = sync_alias(database, store, COLLECTION)
            assert store.alias_target(versions.alias_name(COLLECTION)) == target
            found = {c: answer(searcher_over(store), c) for c in CAPTIONS}
            assert found == answers[current[0]]  # the version's vectors with its own model
        finally:
            store.close()
    database.dispose()
