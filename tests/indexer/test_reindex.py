"""Moving a collection to another model: re-index beside the current version while 16 clients
search, switch atomically, roll back exactly; items added or deleted meanwhile land in both
versions; a model mismatch is refused (409 over HTTP, one line in the CLI)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from derived_model import derived_bundle, perturb_weights
from indexing_images import write_good_images
from reindex_answers import CAPTIONS, COLLECTION, answer, query
from sqlalchemy import select

from anyseek.db import versions
from anyseek.db.migrate import open_database
from anyseek.db.models import Item
from anyseek.errors import AnyseekError, ModelMismatchError
from anyseek.indexer import run_index
from anyseek.indexer.reindex import run_reindex, start_reindex
from anyseek.indexer.version_switch import rollback
from anyseek.model.service import load_search_model
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.searcher import Searcher
from anyseek.search.stores import BACKENDS, open_store
from anyseek.settings import Settings

CLIENTS = 16


@pytest.fixture(scope="module")
def other_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A modified copy of the built-in model (same spaces, other weights), as a source."""
    return str(derived_bundle(tmp_path_factory.mktemp("models")))


def _settings(settings: Settings, **indexer: object) -> Settings:
    """The test settings with a small re-index batch (progress is reported per batch)."""
    update = {"reindex_batch": 2, "flush_interval_s": 0, **indexer}
    return settings.model_copy(
        update={
            "indexer": settings.indexer.model_copy(update=update),
            "model": settings.model.model_copy(update={"device": "cpu"}),
        }
    )


def _same(a: tuple, b: tuple) -> bool:
    """One model and the same hits, scores equal to 1e-5 (a micro-batch of other queries may
    round the last digits of a score differently)."""
    return (
        a[0] == b[0]
        and [h[0] for h in a[1]] == [h[0] for h in b[1]]
        and all(abs(x[1] - y[1]) <= 1e-5 for x, y in zip(a[1], b[1], strict=True))
    )


@pytest.fixture
def indexed(ready_settings: Settings, search_model, tmp_path: Path):
    """Settings, database, open store and versioned searcher over 8 scenes indexed with the
    built-in model."""
    settings = _settings(ready_settings)
    run_index(settings, COLLECTION, write_good_images(tmp_path / "images", 8), model=search_model)
    database = open_database(settings)
    store = open_store(settings)
    registry = ModelRegistry(settings.model, default=search_model)
    searcher = Searcher(search_model, store, settings.search, database=database, registry=registry)
    yield settings, database, store, searcher, registry
    store.close()
    database.dispose()


def test_a_collection_moves_to_another_model_under_16_clients_and_rolls_back_exactly(
    indexed, search_model, other_source: str
) -> None:
    settings, database, store, searcher, registry = indexed
    builtin = f"{search_model.name}@{search_model.version}"
    before = {caption: answer(searcher, caption) for caption in CAPTIONS}
    answers: list[tuple[str, str, tuple]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def client(n: int) -> None:
        while not stop.is_set():
            caption = CAPTIONS[n % len(CAPTIONS)]
            try:
                answers.append((caption, *answer(searcher, caption)))
            except BaseException as exc:  # every error counts
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        other = registry.get(other_source)
        with database.session() as session:
            job_id, number = start_reindex(session, COLLECTION, other, other_source)
        report = run_reindex(settings, database, store, job_id, registry.get)
        served_before_switch = len(answers)
        while len(answers) < served_before_switch + CLIENTS:  # some answers after the switch
            stop.wait(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert errors == []
    assert (report.status, report.done, report.total, number) == ("succeeded", 8, 8, 2)
    moved = f"{other.name}@{other.version}"
    after = {caption: answer(searcher, caption) for caption in CAPTIONS}
    assert all(after[c][0] == moved for c in CAPTIONS)
    assert after != before  # another model: other scores
    for caption, model, hits in answers:  # never mixed: each answer is wholly one version's
        assert any(_same((model, hits), one) for one in (before[caption], after[caption]))
    assert {model for _, model, _ in answers} == {builtin, moved}
    with database.session() as session:
        listed = versions.describe(session, COLLECTION)
    assert [(v.number, v.current, v.model) for v in listed] == [
        (1, False, builtin),
        (2, True, moved),
    ]
    assert store.alias_target(versions.alias_name(COLLECTION)) == "scenes@v2"

    rolled = rollback(settings, database, store, COLLECTION, registry.get)

    assert (rolled.previous, rolled.current) == (2, 1)
    assert {caption: answer(searcher, caption) for caption in CAPTIONS} == before
    assert store.alias_target(versions.alias_name(COLLECTION)) == "scenes"


def test_items_added_and_deleted_during_a_reindex_are_in_both_versions(
    indexed, search_model, other_source: str, tmp_path: Path
) -> None:
    settings, database, store, _, registry = indexed
    from anyseek.api import catalog

    with database.session() as session:
        doomed = session.scalars(select(Item.id).order_by(Item.id)).all()[-1]
    changed: list[int] = []

    def meanwhile(done: int, total: int) -> None:  # after the first batch of the re-index
        if changed:
            return
        changed.append(done)
        extra = write_good_images(tmp_path / "more", 1, first_seed=500)
        run_index(settings, COLLECTION, extra, model=search_model, store=store)
        with database.session() as session:
            catalog.delete_item(settings, session, store, COLLECTION, doomed)

    other = registry.get(other_source)
    with database.session() as session:
        job_id, _ = start_reindex(session, COLLECTION, other, other_source)
    report = run_reindex(settings, database, store, job_id, registry.get, progress=meanwhile)

    assert report.status == "succeeded" and changed
    with database.session() as session:
        alive = set(session.scalars(select(Item.id)))
    assert len(alive) == 8 and doomed not in alive
    for name in ("scenes", "scenes@v2"):
        held = {s.id for s in store.retrieve(name, sorted(alive | {doomed}), with_vectors=False)}
        assert held == alive, name


def test_a_cancelled_reindex_drops_its_version_and_searches_stay_on_the_current(
    indexed, other_source: str
) -> None:
    settings, database, store, searcher, registry = indexed
    from anyseek.indexer.jobs import cancel_job

    before = answer(searcher, CAPTIONS[0])
    with database.session() as session:
        job_id, number = start_reindex(
            session, COLLECTION, registry.get(other_source), other_source
        )

    def cancel(done: int, total: int) -> None:
        with database.session() as session:
            cancel_job(session, job_id)

    report = run_reindex(settings, database, store, job_id, registry.get, progress=cancel)

    assert report.status == "cancelled"
    with database.session() as session:
        assert [v.number for v in versions.describe(session, COLLECTION)] == [1]
    assert f"scenes@v{number}" not in store.collections()
    assert answer(searcher, CAPTIONS[0]) == before


def test_a_model_changed_at_its_source_is_refused_not_mixed(
    ready_settings: Settings, tmp_path: Path
) -> None:
    source = derived_bundle(tmp_path / "models", seed=3)
    settings = _settings(ready_settings)
    settings = settings.model_copy(
        update={"model": settings.model.model_copy(update={"source": str(source)})}
    )
    run_index(settings, COLLECTION, write_good_images(tmp_path / "images", 2))
    perturb_weights(source, seed=4)  # the weights at the source change: another model
    database = open_database(settings)
    store = open_store(settings)
    changed = load_search_model(settings.model)
    try:
        registry = ModelRegistry(settings.model, default=changed)
        searcher = Searcher(changed, store, settings.search, database=database, registry=registry)
        with pytest.raises(ModelMismatchError) as refused:
            searcher.search(query(CAPTIONS[0]))
        with pytest.raises(AnyseekError, match="was indexed with"):
            more = write_good_images(tmp_path / "more", 1, 50)  # a fresh process: the new weights
            run_index(settings, COLLECTION, more, model=changed, load_model=lambda _: changed)
    finally:
        store.close()
        database.dispose()
    message = str(refused.value)
    assert "derived-model@" in message and changed.version in message
    assert f"anyseek reindex {COLLECTION} --model" in message


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_reindex_switch_and_rollback_on_every_store(
    backend: str, ready_settings: Settings, search_model, other_source: str, tmp_path: Path
) -> None:
    settings = _settings(ready_settings)
    settings = settings.model_copy(
        update={"store": settings.store.model_copy(update={"backend": backend})}
    )
    run_index(settings, COLLECTION, write_good_images(tmp_path / "images", 3), model=search_model)
    database = open_database(settings)
    store = open_store(settings)
    try:
        registry = ModelRegistry(settings.model, default=search_model)
        searcher = Searcher(
            search_model, store, settings.search, database=database, registry=registry
        )
        before = answer(searcher, CAPTIONS[0])
        with database.session() as session:
            job_id, _ = start_reindex(session, COLLECTION, registry.get(other_source), other_source)
        assert run_reindex(settings, database, store, job_id, registry.get).status == "succeeded"
        moved = answer(searcher, CAPTIONS[0])
        assert store.alias_target(versions.alias_name(COLLECTION)) == "scenes@v2"
        rollback(settings, database, store, COLLECTION, registry.get)
        assert moved[0] != before[0] and answer(searcher, CAPTIONS[0]) == before
    finally:
        store.close()
        database.dispose()


def test_a_finished_reindex_run_again_changes_nothing(indexed, other_source: str) -> None:
    """What a redelivered ``anyseek.reindex`` task does (Redis redelivers an unacknowledged
    task after its visibility timeout, acks-late tasks run at least once)."""
    settings, database, store, searcher, registry = indexed
    from anyseek.indexer.jobs import cancel_job

    with database.session() as session:
        done_id, _ = start_reindex(session, COLLECTION, registry.get(other_source), other_source)
    assert run_reindex(settings, database, store, done_id, registry.get).status == "succeeded"
    rollback(settings, database, store, COLLECTION, registry.get)
    rolled_back = answer(searcher, CAPTIONS[0])

    again = run_reindex(settings, database, store, done_id, registry.get)

    assert again.status == "succeeded"
    with database.session() as session:
        assert [(v.number, v.current) for v in versions.describe(session, COLLECTION)] == [
            (1, True),
            (2, False),
        ]
    assert answer(searcher, CAPTIONS[0]) == rolled_back

    with database.session() as session:
        # the same model again: the ready version 2 is not "building", so a new version 3
        cancelled_id, number = start_reindex(
            session, COLLECTION, registry.get(other_source), other_source
        )
        cancel_job(session, cancelled_id)
    assert run_reindex(settings, database, store, cancelled_id, registry.get).status == "cancelled"
    assert run_reindex(settings, database, store, cancelled_id, registry.get).status == "cancelled"
    with database.session() as session:
        assert [v.number for v in versions.describe(session, COLLECTION)] == [1, 2]
    assert f"scenes@v{number}" not in store.collections()
