"""CLI writes while the Celery writer worker (a real process, PostgreSQL and Redis) holds the FAISS
writer: a re-index is queued for it and switches; a rollback, which the worker does not run, is
refused before anything changes, with the holder named."""

from __future__ import annotations

import pytest
from reindex_checks import MOVED, Probe, index_scenes, newest_job, reindex_settings
from worker_processes import purged_app, settings_env, wait_for, workers

from anyseek.cli import main
from anyseek.db import versions

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]


def test_cli_writes_while_the_writer_worker_holds_the_store(
    tmp_path, worker_database_url, redis_url, search_model, monkeypatch, capsys
) -> None:
    from derived_model import derived_bundle

    other_source = str(derived_bundle(tmp_path / "models"))
    settings = reindex_settings(tmp_path, worker_database_url, redis_url)
    index_scenes(settings, tmp_path / "images", 4, search_model, MOVED)
    purged_app(settings)
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    probe = Probe(settings, search_model)
    logs = [tmp_path / "worker0.log"]
    try:
        with workers(settings, tmp_path, "index,writer") as (worker,):
            assert main(["reindex", MOVED, "--model", other_source, "--workers"]) == 0
            first = newest_job(probe)
            wait_for(lambda: probe.job(first).status == "succeeded", 240, "the re-index", logs)
            before = (probe.versions(MOVED), newest_job(probe))
            capsys.readouterr()

            assert main(["collections", "rollback", MOVED]) == 1  # the worker holds the writer
            refused = capsys.readouterr().err
            assert f"a writer worker (pid {worker.process.pid}) holds the writer" in refused
            assert "nothing changed" in refused
            assert (probe.versions(MOVED), newest_job(probe)) == before
            assert probe.store.alias_target(versions.alias_name(MOVED)) == f"{MOVED}@v2"

            assert main(["reindex", MOVED, "--model", "builtin"]) == 0  # queued for the worker
            assert "writes the store: the re-index goes to it" in capsys.readouterr().out
            second = newest_job(probe)
            wait_for(lambda: probe.job(second).status == "succeeded", 240, "the re-index", logs)
        assert [(n, current) for n, current, _ in probe.versions(MOVED)] == [(2, False), (3, True)]
        assert probe.store.alias_target(versions.alias_name(MOVED)) == f"{MOVED}@v3"
    finally:
        probe.close()
