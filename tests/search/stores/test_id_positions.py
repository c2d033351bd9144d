"""IdPositions against a plain dict over random adds and removes, merges included."""

from __future__ import annotations

import numpy as np
import pytest

import anyseek.search.stores.id_positions as ip
from anyseek.search.stores.id_positions import IdPositions


@pytest.mark.parametrize("merge_at", [4, 1000])
def test_matches_a_dict_through_random_changes(monkeypatch, merge_at: int) -> None:
    monkeypatch.setattr(ip, "MERGE_AT", merge_at)
    rng = np.random.default_rng(0)
    labels = rng.choice(10_000, 50, replace=False).astype(np.int64)
    alive = rng.random(50) > 0.3
    table = IdPositions(labels, alive)
    reference = {int(i): n for n, i in enumerate(labels) if alive[n]}
    next_position = len(labels)
    for _ in range(200):
        ids = rng.choice(10_000, int(rng.integers(1, 12)), replace=False).astype(np.int64)
        if rng.random() < 0.5:
            removed = table.remove(np.concatenate([ids, ids[:1]]))  # a repeated id counts once
            expected = sorted(reference.pop(int(i)) for i in ids if int(i) in reference)
            assert sorted(removed.tolist()) == expected
        else:
            table.remove(ids)
            for i in ids.tolist():
                reference.pop(i, None)
            positions = np.arange(next_position, next_position + len(ids))
            table.add(ids, positions)
            reference.update(zip(ids.tolist(), positions.tolist(), strict=True))
            next_position += len(ids)
        assert len(table) == len(reference)
        probe = np.arange(10_000)
        expected = np.array([reference.get(i, -1) for i in probe.tolist()])
        assert (table.find(probe) == expected).all()


def test_empty() -> None:
    table = IdPositions(np.empty(0, np.int64), np.empty(0, bool))
    assert len(table) == 0 and table.find(np.array([1, 2])).tolist() == [-1, -1]
    assert table.remove(np.array([3])).tolist() == []
