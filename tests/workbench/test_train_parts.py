"""Pieces of the training loop: the contrastive loss, one-object positives, a random person,
each pixel query's share of rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from workbench.recipe import TrainRecipe, load_recipe
from workbench.styles import RANDOM, random_person, style, training_styles
from workbench.train import OBJECT, Batcher, fitting, info_nce, lr_at, shifted


def test_one_positive_each_is_plain_infonce() -> None:
    a, b = F.normalize(torch.randn(6, 8), dim=1), F.normalize(torch.randn(6, 8), dim=1)
    scale = torch.tensor(10.0)
    plain = info_nce(a, b, scale)
    assert torch.allclose(plain, info_nce(a, b, scale, torch.eye(6, dtype=torch.bool)))
    more = torch.eye(6, dtype=torch.bool)
    more[0, 3] = True  # scene 3 fits caption 0 too: less to push apart
    assert info_nce(a, b, scale, more) < plain


def test_a_one_object_caption_fits_every_scene_with_that_object() -> None:
    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    blue_ball = {"shape": "sphere", "color": "blue", "size": "large", "material": "rubber"}
    scenes = [{"objects": [red_cube]}, {"objects": [blue_ball]}, {"objects": [red_cube, blue_ball]}]
    captions = [OBJECT + "A red cube.", "A large blue rubber sphere.", OBJECT + "a blue ball"]
    fits = fitting(captions, scenes)
    assert fits.tolist() == [
        [True, False, True],
        [False, True, False],  # a full caption keeps its own scene only
        [False, True, True],
    ]


def test_a_random_person_is_reproducible_and_trainable() -> None:
    assert random_person(3) == random_person(3) != random_person(4)
    assert style(RANDOM, 3) == random_person(3)
    assert training_styles(("default", RANDOM)) == ("default", RANDOM)
    people = [random_person(s) for s in range(200)]
    assert min(p.aspect[0] for p in people) >= 0.75 and max(p.wobble for p in people) <= 0.02


def test_the_schedule_warms_up_then_decays_to_zero() -> None:
    recipe = TrainRecipe(steps=100, warmup=10, lr=1e-3)
    assert lr_at(0, recipe) < lr_at(9, recipe) == recipe.lr
    assert lr_at(55, recipe) < recipe.lr and lr_at(100, recipe) == 0.0


def test_a_shifted_map_keeps_its_values() -> None:
    ids = torch.randint(0, 7, (4, 1, 64, 64)).float()
    moved = shifted(ids)
    assert moved.shape == ids.shape and set(moved.unique().tolist()) <= set(range(7))


def test_query_weights_set_each_pixel_query_s_share_of_rows() -> None:
    queries = ("depth", "normal", "semseg", "sketch", "edges")
    recipe = TrainRecipe(query_weights={"sketch": 3.0, "edges": 0.0})
    batcher = Batcher(data=None, vocab=None, recipe=recipe, queries=queries)  # type: ignore[arg-type]
    torch.manual_seed(0)
    counts = torch.bincount(batcher.query_kinds(70_000), minlength=len(queries)) / 70_000
    assert counts[queries.index("edges")] == 0.0  # weight 0: never drawn
    assert abs(counts[queries.index("sketch")] - 3 / 6) < 0.01  # 3 of 1 + 1 + 1 + 3 + 0
    assert abs(counts[queries.index("depth")] - 1 / 6) < 0.01  # unnamed: weight 1


def test_query_weights_of_unknown_modalities_or_below_zero_are_refused(tmp_path: Path) -> None:
    for weights, said in (
        ({"skech": 2.0}, "unknown modalities ['skech']"),
        ({"depth": -1}, "0 or more"),
        ({q: 0 for q in ("depth", "normal", "semseg", "sketch", "edges")}, "every pixel query"),
    ):
        recipe = tmp_path / "r.json"
        recipe.write_text(json.dumps({"name": "r", "train": {"query_weights": weights}}))
        with pytest.raises(ValueError, match=re.escape(said)):
            load_recipe(str(recipe))
