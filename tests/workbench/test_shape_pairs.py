"""Shape pairs (``train.shape_pairs``): in the caption's pairs with maps, a caption cut to what a
map shows of it (no colour, no material) in the caption's place; what a batch brings, and a step."""

from __future__ import annotations

import random

import pytest
import torch

from anyseek.model.builtin.text import words_of
from anyseek.workbench.colours import NOT_SHAPE, shape_caption, shape_pairs
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher

QUERIES = ("depth", "sketch")
CROSS = {"cross_weight": 0.5, "cross_pairs": (("caption", "depth"), ("caption", "sketch"))}


def test_a_shape_caption_keeps_shapes_sizes_and_counts_and_no_colour_or_material() -> None:
    said = shape_caption("A small red metal cube, a blue ball and a big green shiny cone.")
    assert said == "a small cube, a ball and a big cone."
    assert shape_caption("Two red cubes left of a matte torus.") == "two cubes left of a torus."
    # nothing a map cannot show: the caption is its own shape caption
    assert shape_caption("Two cubes and one cone.") is None
    assert shape_caption("") is None


def test_every_scene_caption_of_the_tiny_set_loses_only_its_colours_and_materials(
    tiny_training: tuple,
) -> None:
    data, _, _ = tiny_training
    for phrasings in data.scenes.captions:
        for caption in phrasings:
            said = shape_caption(caption)
            if said is None:
                continue
            kept = [w for w in words_of(caption.lower()) if w not in NOT_SHAPE]
            assert words_of(said) == kept
            assert not set(words_of(said)) & NOT_SHAPE


def test_off_draws_nothing_and_on_names_the_rows_it_cut() -> None:
    texts = ["a red cube.", "two cubes.", "a big metal ball."]
    rng = random.Random(0)
    assert shape_pairs(texts, 0.0, rng) == ([], None)
    assert rng.random() == random.Random(0).random()  # off: the generator is not drawn from
    said, rows = shape_pairs(texts, 1.0, random.Random(0))
    assert said == ["a cube.", "a big ball."] and rows.tolist() == [0, 2]


def test_a_batch_brings_shape_captions_last_and_keeps_everything_else(
    tiny_training: tuple,
) -> None:
    data, _, vocab = tiny_training
    torch.manual_seed(3)
    recipe = TrainRecipe(colour_rows=1.0, **CROSS)
    plain = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    assert plain["shapes"] is None
    torch.manual_seed(3)
    recipe = TrainRecipe(colour_rows=1.0, shape_pairs=1.0, **CROSS)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    assert torch.equal(batch["rgb"], plain["rgb"])
    rows = batch["shapes"]
    assert len(rows) >= 12 and len(set(rows.tolist())) == len(rows)
    words = batch["words"]
    assert len(words) == len(plain["words"]) + len(rows)
    head = words[: len(plain["words"]), : plain["words"].shape[1]]
    assert torch.equal(head, plain["words"])
    # each shape caption ([words, trigrams] per row) is its row's caption with words left out
    tail, own = words[len(plain["words"]) :], words[rows]
    cut, whole = (tail > 0).any(-1).sum(1), (own > 0).any(-1).sum(1)
    assert (cut <= whole).all() and (cut < whole).sum() > len(rows) // 2  # long ones: 32 words


def _cross_after_step(tiny_training: tuple, share: float, drop_shapes: bool = False) -> float:
    """The cross-pair loss of one step on one batch."""
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_step

    data, config, vocab = tiny_training
    recipe = TrainRecipe(bf16=False, warmup=1, shape_pairs=share, **CROSS)
    torch.manual_seed(0)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    if drop_shapes:
        batch["words"] = batch["words"][: len(batch["words"]) - len(batch["shapes"])]
        batch["shapes"] = None
    torch.manual_seed(0)
    state = new_state(BuiltinModel(config), recipe)
    return train_step(state, batch, recipe)["cross"]


def test_the_cross_pairs_read_the_shape_captions_and_nothing_else_moves(
    tiny_training: tuple,
) -> None:
    with_shapes = _cross_after_step(tiny_training, 1.0)
    without = _cross_after_step(tiny_training, 1.0, drop_shapes=True)
    assert abs(with_shapes - without) > 1e-4
    # without the shape captions the step is the one a recipe without the lever takes
    assert without == _cross_after_step(tiny_training, 0.0)


def test_shape_pairs_without_the_cross_pairs_are_refused_by_name(tiny_training: tuple) -> None:
    data, _, vocab = tiny_training
    with pytest.raises(ValueError, match="shape_pairs needs the cross-pair loss"):
        Batcher(data, vocab, TrainRecipe(shape_pairs=0.5), QUERIES, random.Random(0))
