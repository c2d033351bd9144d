"""Binding negatives: captions one attribute away from true, and the loss that uses them."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from anyseek.model.vocabulary.synonyms import canonical_caption
from anyseek.workbench.contrastive import info_nce
from anyseek.workbench.metrics import caption_facts, satisfies
from anyseek.workbench.negatives import attribute_words, binding_negative
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher

RED_CUBE = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
BLUE_BALL = {"shape": "sphere", "color": "blue", "size": "large", "material": "matte"}
BLUE_CUBE = {"shape": "cube", "color": "blue", "size": "small", "material": "matte"}


def _false_of(caption: str, scene: dict) -> bool:
    facts = caption_facts(canonical_caption(caption))
    return bool(facts) and not satisfies(scene, facts)


def test_a_two_object_caption_is_negated_by_swapping_what_binds_to_what() -> None:
    scene = {"objects": [RED_CUBE, BLUE_BALL]}
    swaps = {"A blue cube and a red ball.", "A red ball and a blue cube."}
    made = {
        binding_negative("A red cube and a blue ball.", scene, random.Random(s)) for s in range(20)
    }
    assert made == swaps  # the bag of attributes is the same; only the binding differs


def test_a_one_object_caption_borrows_another_object_s_attribute_first() -> None:
    scene = {"objects": [RED_CUBE, BLUE_BALL]}
    made = {binding_negative("A small red cube.", scene, random.Random(s)) for s in range(30)}
    assert made == {"A small blue cube.", "A small red sphere.", "A large red cube."}
    assert all(_false_of(m, scene) for m in made)


def test_an_edit_the_scene_still_fits_is_never_a_negative() -> None:
    scene = {"objects": [RED_CUBE, BLUE_CUBE]}  # "a blue cube" is true here too
    for seed in range(30):
        made = binding_negative("A red cube.", scene, random.Random(seed))
        assert made is not None and made != "A blue cube." and _false_of(made, scene)
    assert binding_negative("Two objects on a slate floor.", scene, random.Random(0)) is None


def test_edits_keep_the_caption_s_capitals_and_read_synonyms_as_their_shape() -> None:
    assert [w[2:] for w in attribute_words("Big red Ball, shiny box")] == [
        ("size", "large"), ("color", "red"), ("shape", "sphere"), ("material", "metal"),
        ("shape", "cube"),
    ]  # fmt: skip
    made = binding_negative("Red cube.", {"objects": [RED_CUBE]}, random.Random(0))
    assert made is not None and made[0].isupper() and made != "Red cube."


def test_extra_negatives_are_ranked_against_every_image() -> None:
    torch.manual_seed(0)
    texts, images = F.normalize(torch.randn(4, 8), dim=1), F.normalize(torch.randn(4, 8), dim=1)
    scale = torch.tensor(10.0)
    plain = info_nce(texts, images, scale)
    near = F.normalize(images + 0.05 * torch.randn(4, 8), dim=1)  # each image's look-alike caption
    far = -images
    assert torch.allclose(plain, info_nce(texts, images, scale, torch.eye(4, dtype=torch.bool)))
    assert (
        plain
        < info_nce(texts, images, scale, extra=far)
        < info_nce(texts, images, scale, extra=near)
    )


def test_a_batch_with_binding_negatives_carries_them_after_its_captions(
    tiny_training: tuple,
) -> None:
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_step

    data, config, vocab = tiny_training
    recipe = TrainRecipe(binding_negatives=1.0, bf16=False, warmup=1)
    batch = Batcher(data, vocab, recipe, ("sketch", "semseg"), random.Random(0)).batch(16)
    assert 8 <= batch["negatives"] <= 16  # counts captions ("two cubes") state no colour to swap
    assert batch["words"].shape[0] == 16 + batch["negatives"]
    state = new_state(BuiltinModel(config), recipe)
    assert torch.isfinite(torch.tensor(train_step(state, batch, recipe)["text"]))
    off = Batcher(data, vocab, TrainRecipe(bf16=False), ("sketch", "semseg"), random.Random(0))
    plain = off.batch(16)
    assert plain["negatives"] == 0 and plain["words"].shape[0] == 16
