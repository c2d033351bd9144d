"""Colour rows (``train.colour_rows``): a scene's short caption with only its colours left, as an
extra caption row beside its caption; what a batch brings, and a step that learns from them."""

from __future__ import annotations

import random

import torch

from anyseek.model.builtin.text import words_of
from anyseek.scenes.scene import COLORS
from anyseek.workbench.colours import NOT_COLOUR, colour_caption, colour_rows
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher

QUERIES = ("depth", "sketch")


def test_a_colour_caption_keeps_the_colours_in_order_and_nothing_a_map_shows() -> None:
    said = colour_caption("A small red metal cube, a blue ball and a big green shiny cone.")
    assert said == "a red, a blue and a green."
    assert colour_caption("A large cyan rubber torus.") == "a cyan."
    # nothing to say of colour: no row (counts, an empty floor)
    assert colour_caption("Two cubes and one cone.") is None
    assert colour_caption("") is None


def test_every_scene_caption_of_the_tiny_set_reads_as_its_objects_colours(
    tiny_training: tuple,
) -> None:
    data, _, _ = tiny_training
    for i, scene in enumerate(data.scenes.scenes):
        said = colour_caption(data.scenes.captions[i][0])
        if said is None:
            continue
        words = words_of(said)
        assert not set(words) & NOT_COLOUR
        assert {w for w in words if w in COLORS} <= {o["color"] for o in scene["objects"]}


def test_off_nothing_is_drawn_and_on_each_row_fits_its_own_scenes_rows() -> None:
    captions = [("A red cube and a blue ball.",), ("Two cubes.",), ("A green cone.",)]
    rng = random.Random(4)
    assert colour_rows(captions, torch.tensor([0, 1, 2]), 0.0, rng) == ([], None)
    assert rng.random() == random.Random(4).random()  # off: the stream is untouched
    index = torch.tensor([0, 0, 1, 1, 2, 2])  # twin rows: each scene on two rows
    said, fit = colour_rows(captions, index, 1.0, random.Random(0))
    assert said == ["a red and a blue."] * 2 + ["a green."] * 2  # scene 1 has no colour
    assert fit is not None and fit.tolist() == [
        [True, True, False, False, False, False],
        [True, True, False, False, False, False],
        [False, False, False, False, True, True],
        [False, False, False, False, True, True],
    ]


def test_a_batch_brings_colour_rows_after_the_object_rows_and_keeps_its_captions(
    tiny_training: tuple,
) -> None:
    data, _, vocab = tiny_training
    torch.manual_seed(3)
    plain = Batcher(data, vocab, TrainRecipe(object_rows=1.0), QUERIES, random.Random(0)).batch(16)
    assert plain["colours"] is None
    torch.manual_seed(3)
    recipe = TrainRecipe(object_rows=1.0, colour_rows=1.0)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    assert torch.equal(batch["rgb"], plain["rgb"])
    assert torch.equal(batch["objects"], plain["objects"])
    coloured = batch["colours"]
    assert len(coloured) >= 12 and coloured.any(1).all()
    for fit in coloured:  # a row fits its scene's rows only (drawn with replacement: maybe more)
        shown = batch["rgb"][fit]
        assert (shown == shown[:1]).all()
        assert not (batch["rgb"][~fit] == shown[:1]).flatten(1).all(1).any()
    assert len(batch["words"]) == 16 + len(plain["objects"]) + len(coloured)
    assert torch.equal(batch["words"][: len(plain["words"]), : plain["words"].shape[1]],
                       plain["words"])  # fmt: skip


def _one_step(tiny_training: tuple, recipe: TrainRecipe, colours: bool) -> torch.nn.Module:
    """The model after one step on a batch with colour rows, or the same batch without them."""
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_step

    data, config, vocab = tiny_training
    torch.manual_seed(0)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    if not colours:
        batch["words"] = batch["words"][: len(batch["words"]) - len(batch["colours"])]
        batch["colours"] = None
    torch.manual_seed(0)
    state = new_state(BuiltinModel(config), recipe)
    train_step(state, batch, recipe)
    return state.model


def test_the_colour_rows_move_the_image_tower_only_when_asked(tiny_training: tuple) -> None:
    for images in (False, True):
        recipe = TrainRecipe(bf16=False, warmup=1, colour_rows=1.0, colour_rows_images=images)
        on = _one_step(tiny_training, recipe, colours=True)
        off = _one_step(tiny_training, recipe, colours=False)
        trunks = zip(on.image_trunk.parameters(), off.image_trunk.parameters(), strict=True)
        assert all(torch.equal(a, b) for a, b in trunks) != images, images
        text = zip(on.text.parameters(), off.text.parameters(), strict=True)
        assert not all(torch.equal(a, b) for a, b in text)  # the text tower learns either way


def test_a_step_with_colour_rows_learns_them(tiny_training: tuple) -> None:
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_step

    data, config, vocab = tiny_training
    recipe = TrainRecipe(bf16=False, warmup=1, lr=5e-3, colour_rows=1.0)
    torch.manual_seed(0)
    state = new_state(BuiltinModel(config), recipe)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    losses = train_step(state, batch, recipe)
    assert set(losses) == {"pixel", "text", "colours"}
    first = losses["colours"]
    for _ in range(12):
        losses = train_step(state, batch, recipe)
    assert losses["colours"] < first - 0.2


def test_a_chunk_s_record_keeps_the_colour_rows_loss(tiny_training: tuple, tmp_path) -> None:
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_chunks

    data, config, vocab = tiny_training
    recipe = TrainRecipe(bf16=False, warmup=1, steps=3, batch=8, colour_rows=0.5)
    torch.manual_seed(0)
    state = new_state(BuiltinModel(config), recipe)
    batcher = Batcher(data, vocab, recipe, QUERIES, random.Random(0))
    done = train_chunks(
        state,
        batcher,
        recipe,
        tmp_path / "checkpoint.pt",
        validate=lambda m: {},
        log=lambda s: None,
    )
    record = done.history[-1]
    assert record["step"] == 3 and record["colours_loss"] > 0
