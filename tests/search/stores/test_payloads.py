"""PayloadTable: filters on indexed and unindexed fields agree with a brute-force check through
adds, replacements, deletions and metadata edits; the file round-trips, old files load."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

import anyseek.search.stores.payloads as pl
from anyseek.search.stores.base import DateRange, Filter, Range
from anyseek.search.stores.payloads import PayloadTable


def _payload(item: int, rng: random.Random) -> dict:
    """Indexer-like fields (a unique path and hash, few folders) plus user metadata."""
    payload = {
        "path": f"/p/{item}.jpg",
        "sha256": f"{item:064x}",
        "folder": f"/p/{rng.randrange(5)}",
        "bytes": rng.randrange(1000),
        "flag": rng.choice([True, False, 1, 0]),
        "labels": rng.sample(["a", "b", "c", "d"], rng.randrange(3)) + ["a"] * rng.randrange(2),
    }
    if rng.random() < 0.5:
        day = f"2024-01-{rng.randrange(1, 28):02d}"
        payload["metadata"] = {"tag": rng.choice(["x", "y"]), "day": day}
    return payload


FILTERS = [
    Filter(equals={"folder": "/p/1"}),
    Filter(equals={"path": "/p/7.jpg"}),
    Filter(any_of={"sha256": [f"{3:064x}", f"{9:064x}"]}),
    Filter(equals={"flag": True}),
    Filter(equals={"flag": 1}),
    Filter(any_of={"labels": ["a", "d"]}),
    Filter(equals={"metadata.tag": "x"}, ranges={"bytes": Range(gte=100, lte=600)}),
    Filter(dates={"metadata.day": DateRange(gte="2024-01-10", lte="2024-01-20")}),
    Filter(exists=["metadata.tag", "labels"]),
    Filter(ids=[1, 2, 3, 500], equals={"folder": "/p/2"}),
]


def _expected(table: PayloadTable, filter: Filter) -> list[int]:
    return sorted(int(i) for i in table.ids() if table.accepts(int(i), filter))


@pytest.mark.parametrize(
    ("floor", "small"),
    [(10, 10_000), (10_000, 10_000), (10, 8)],  # paths and hashes lose their index or keep it;
)  # with small=8 the ids of a value turn from a set into an array with removals set aside
def test_filters_agree_with_a_scan_through_changes(monkeypatch, floor: int, small: int) -> None:
    monkeypatch.setattr(pl, "INDEX_FLOOR", floor)
    monkeypatch.setattr(pl, "SMALL_GROUP", small)
    rng = random.Random(0)
    table = PayloadTable({i: _payload(i, rng) for i in range(300)})
    assert ("path" in table._wide) == (floor == 10) and "folder" not in table._wide
    for step in range(4):
        for f in FILTERS:
            assert sorted(table.matching(f).tolist()) == _expected(table, f), (step, f)
        new = range(300 + 50 * step, 350 + 50 * step)
        table.upsert(new, [_payload(i, rng) for i in new])  # columns are extended, not rebuilt
        for f in FILTERS:
            assert sorted(table.matching(f).tolist()) == _expected(table, f), (step, f)
        table.upsert([step, 10 + step], [_payload(1000 + step, rng), {"folder": "/p/1"}])
        table.remove(20 + step)
        table.set_metadata([30 + step, 99_999], [{"tag": "x", "day": "2024-01-15"}, {}])
    assert len(table) == 300 + 200 - 4
    assert table.get(30)["metadata"] == {"tag": "x", "day": "2024-01-15"}


def test_booleans_and_integers_stay_apart() -> None:
    table = PayloadTable({1: {"v": True}, 2: {"v": 1}, 3: {"v": [0, False]}})
    assert table.matching(Filter(equals={"v": True})).tolist() == [1]
    assert table.matching(Filter(equals={"v": 1})).tolist() == [2]
    assert table.matching(Filter(equals={"v": False})).tolist() == [3]


def test_saved_file_round_trips_and_format_1_loads(tmp_path: Path) -> None:
    rng = random.Random(1)
    payloads = {i: _payload(i, rng) for i in range(50)}
    payloads[7] = {"text": 'naïve ] [, "quoted"', "nested": {"a": [1, {"b": None}]}}
    table = PayloadTable(payloads)
    table.save(tmp_path / "p.jsonl")
    again = PayloadTable.load(tmp_path / "p.jsonl")
    assert {i: again.get(i) for i in range(50)} == payloads
    (tmp_path / "old.json").write_text(json.dumps([[i, p] for i, p in payloads.items()]))
    old = PayloadTable.load(tmp_path / "old.json")
    assert {i: old.get(i) for i in range(50)} == payloads
    assert sorted(old.matching(Filter(equals={"folder": "/p/1"})).tolist()) == _expected(
        old, Filter(equals={"folder": "/p/1"})
    )
    (tmp_path / "empty.json").write_text("[]")
    assert len(PayloadTable.load(tmp_path / "empty.json")) == 0


def test_ids_and_numbers_are_numpy() -> None:
    table = PayloadTable({5: {"n": 1.5}, 9: {"n": [2, 3]}})
    assert table.ids().dtype == np.int64
    assert table.matching(Filter(ranges={"n": Range(gte=2.5)})).tolist() == [9]


def test_id_group_turns_into_an_array_and_compacts(monkeypatch) -> None:
    monkeypatch.setattr(pl, "SMALL_GROUP", 8)
    group, expected = pl.IdGroup(), set()
    for item in range(100):
        group.add(item)
        expected.add(item)
    for item in range(0, 60, 2):  # 30 removals: past a quarter, the array is rewritten
        group.discard(item)
        expected.discard(item)
        assert len(group) == len(expected)
    group.add(4)  # removed before, back again
    group.add(200)
    expected |= {4, 200}
    assert group.ids() == expected and len(group) == len(expected)
