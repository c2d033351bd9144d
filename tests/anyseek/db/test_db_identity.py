"""The model identity: made once from a loaded model, compared by equality (the source does not
count), stored on a version row and read back the same on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from anyseek.db import repository, versions
from anyseek.db.session import Database
from anyseek.identity import ModelIdentity
from anyseek.model.service import model_identity


def test_a_loaded_model_gives_its_identity(search_model) -> None:
    made = model_identity(search_model, "builtin")
    assert (made.name, made.version, made.source) == (
        search_model.name,
        search_model.version,
        "builtin",
    )
    assert str(made) == f"{search_model.name}@{search_model.version}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.version = "other"  # type: ignore[misc]


def test_identities_are_equal_by_name_and_weights_not_by_source(search_model) -> None:
    made = model_identity(search_model, "builtin")
    elsewhere = model_identity(search_model, "/models/a-copy-of-builtin")
    assert made == elsewhere and hash(made) == hash(elsewhere)
    assert made == model_identity(search_model)  # source unknown: still the same model
    assert made != dataclasses.replace(made, version="0123456789abcdef")  # other weights
    assert made != dataclasses.replace(made, name="renamed")  # its spaces are under its name
    assert {made, elsewhere} == {made}


def test_an_identity_round_trips_through_a_version_row(database: Database, search_model) -> None:
    first = model_identity(search_model, "builtin")
    second = ModelIdentity("derived-model", "fedcba9876543210", "/models/derived")
    with database.session() as session:
        collection = repository.create_collection(session, "scenes")
        assert versions.collection_identity(session, collection) is None  # never indexed
        versions.record_first_version(session, collection, first)
        versions.add_version(session, collection, second, job_id=None)
    with database.session() as session:
        collection = repository.get_collection(session, "scenes")
        one, two = versions.versions(session, collection)
        read = [versions.stored_identity(one), versions.stored_identity(two)]
        assert read == [first, second]
        assert [r.source for r in read] == ["builtin", "/models/derived"]  # kept, not compared
        assert versions.collection_identity(session, collection) == first
        assert versions.stored_identity(collection) == first  # the collection row follows
        versions.switch(session, "scenes", 2)
    with database.session() as session:
        collection = repository.get_collection(session, "scenes")
        assert versions.collection_identity(session, collection) == second
        assert versions.collection_identity(session, collection).source == "/models/derived"
        assert versions.stored_identity(collection) == second
        assert repository.summarize(session, [collection])[0].model == str(second)
