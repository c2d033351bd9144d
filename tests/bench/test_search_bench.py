"""bench/search.py's choices: which model both servers load, and the CPU it reports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.http_load import tree_cpu_s
from bench.search import model_source
from bench.search_load import LAYER_HEAD, LAYERS, OTHER, LoadResult, by_layer, left_section


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


def test_what_is_left_per_layer_is_the_layer_less_its_stages_in_process() -> None:
    plain = "this tree, `anyseek serve`"
    layers = {OTHER: 2.0, "request pool": 2.5, "model": 2.75}
    row = LoadResult(plain, "ordinary", 150.0, 80.0, 400.0, 0, 7.25, 4.0, layers, 2)
    lean = LoadResult(plain, "lean", 400.0, 35.0, 100.0, 0, 4.5, 0.1, {OTHER: 9.0}, 2)
    stages = {2000: {"prepare": 0.5, "finish": 1.0, "model": 1.25}}
    lines = left_section({2000: [lean, row]}, stages, plain)
    cells = {line.split(" | ")[0][2:]: line.split(" | ")[1:4] for line in lines[6:]}
    assert cells == {
        OTHER: ["2.00", "0.00", "2.00"],
        "request pool": ["2.50", "1.50", "1.00"],
        "model": ["2.75", "1.25", "1.50"],
    }
    assert left_section({2000: [lean]}, stages, plain) == []  # no ordinary row: no section
    assert LAYER_HEAD[0].count("request pool") == 1  # two thread names, one layer
