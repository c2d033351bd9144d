"""bench/search.py's choices: which model both servers load, and the CPU it reports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.http_load import tree_cpu_s
from bench.search import model_source
from bench.search_load import LAYERS, OTHER, by_layer


def test_baseline_means_the_bundle_the_first_tree_ships_wherever_it_kept_it(tmp_path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "model/builtin").mkdir(parents=True)
    (old / "model/builtin/bundle.json").write_text("{}")  # where revisions before v10 kept it
    (new / "model/builtin/weights").mkdir(parents=True)
    (new / "model/builtin/weights/bundle.json").write_text("{}")
    trees = {"old": old, "this tree": new}
    assert model_source("baseline", trees) == str(old / "model/builtin")
    assert model_source("baseline", {"this tree": new}) == str(new / "model/builtin/weights")
    assert model_source("builtin", trees) == "builtin"
    assert model_source(str(new / "model/builtin/weights"), trees) == str(
        (new / "model/builtin/weights").resolve()
    )
    with pytest.raises(SystemExit, match="no built-in bundle"):
        model_source("baseline", {"empty": tmp_path})


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_cpu_of_a_process_grows_with_its_work() -> None:
    before = tree_cpu_s(os.getpid())
    sum(i * i for i in range(2_000_000))
    after = tree_cpu_s(os.getpid())
    assert before is not None and after is not None and after > before


def test_threads_cpu_sums_into_their_layers_and_unknown_threads_into_other() -> None:
    name, layer = next(iter(LAYERS.items()))
    split = by_layer({name: 0.5, "someone-else": 0.25, "another": 0.25})
    assert split == {layer: 0.5, OTHER: 0.5}
