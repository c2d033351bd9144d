"""Twin rows: each scene of a batch on two neighbouring rows, its image embedded once for both,
every loss counting the scene's other row right, the two rows' queries the cross pairs."""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F

from anyseek.workbench.contrastive import info_nce
from anyseek.workbench.cross import modality_rows
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher
from anyseek.workbench.twins import (
    check_twin_rows,
    image_rows,
    same_scene,
    twin_index,
    twin_shown,
)

QUERIES = ("depth", "normal", "semseg", "sketch", "edges")
TWINS = {"twin_rows": True, "cross_second": 0.0}


def test_each_scene_is_on_two_neighbouring_rows() -> None:
    torch.manual_seed(0)
    index = twin_index(1000, 64)
    assert index.shape == (64,) and torch.equal(index[0::2], index[1::2])
    assert len(set(index[0::2].tolist())) > 1
    same = same_scene(index)
    assert same[0, 1] and same[1, 0] and same.diagonal().all()
    assert torch.equal(image_rows(6), torch.tensor([0, 0, 1, 1, 2, 2]))


def test_duplicated_images_with_their_twins_right_are_the_loss_over_each_image_once() -> None:
    """Each image on both its rows, the other row of a scene counted right, is the InfoNCE of
    the queries against the B / 2 images, each image with its two queries right."""
    torch.manual_seed(0)
    queries = F.normalize(torch.randn(8, 16), dim=-1)
    images = F.normalize(torch.randn(4, 16), dim=-1)
    rows, scale = image_rows(8), torch.tensor(10.0)
    got = info_nce(queries, images[rows], scale, same_scene(rows))
    logits = scale * queries @ images.t()  # [8, 4]
    forward = (logits.logsumexp(1) - logits[torch.arange(8), rows]).mean()
    own = logits.t().reshape(4, 4, 2)[torch.arange(4), torch.arange(4)]  # [4, 2]
    backward = (logits.t().logsumexp(1) - own.logsumexp(1)).mean()
    assert math.isclose(float(got), float((forward + backward) / 2), rel_tol=1e-5)
    plain = info_nce(queries, images[rows], scale)  # twins wrong: a different, larger loss
    assert float(plain) > float(got) + 0.1


def test_a_row_shows_its_twins_query_unless_it_shows_that_modality_itself() -> None:
    # rows 0, 1 a scene (depth, sketch); rows 2, 3 another (sketch, sketch)
    groups = {"depth": (torch.tensor([0]), None), "sketch": (torch.tensor([1, 2, 3]), None)}
    vectors = torch.arange(4.0)[:, None] * torch.ones(1, 3)  # depth row 0, sketch rows 1, 2, 3
    shown, moved = twin_shown(groups, vectors)
    assert torch.equal(shown["depth"][0], torch.tensor([1]))  # row 1 shows row 0's depth
    assert torch.equal(shown["sketch"][0], torch.tensor([0]))  # row 0 shows row 1's sketch
    assert torch.equal(moved[:, 0], torch.tensor([0.0, 1.0]))
    texts = torch.zeros(4, 3)
    per = modality_rows(texts, [(groups, vectors), (shown, moved)])
    assert per["depth"][1].tolist() == [True, True, False, False]
    assert torch.equal(per["sketch"][0][0], vectors[1]) and torch.equal(
        per["sketch"][0][3], vectors[3]
    )


def test_impossible_or_doubled_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="even batch"):
        check_twin_rows(255, 0.0, False)
    with pytest.raises(ValueError, match="cross_second to 0"):
        check_twin_rows(256, 0.5, False)
    with pytest.raises(ValueError, match="same_person_pairs"):
        check_twin_rows(256, 0.0, True)


def test_a_twin_batch_embeds_each_scene_once_and_marks_its_twins(tiny_training: tuple) -> None:
    data, _, vocab = tiny_training
    recipe = TrainRecipe(bf16=False, cross_weight=1.0, **TWINS)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    assert batch["rgb"].shape[0] == 8 and torch.equal(batch["image_rows"], image_rows(16))
    assert batch["second"] is None
    same = batch["same"]
    twins = torch.arange(16) ^ 1
    assert (
        torch.equal(same, same.t())
        and same.diagonal().all()
        and same[torch.arange(16), twins].all()
    )
    assert (batch["positives"] & same).sum() == same.sum()  # a twin's caption fits its image
    plain = Batcher(data, vocab, TrainRecipe(bf16=False), QUERIES, random.Random(0)).batch(16)
    assert plain["rgb"].shape[0] == 16 and plain["same"] is None is plain["image_rows"]


def test_a_twin_step_learns_the_pixel_pairs_without_a_second_pass(tiny_training: tuple) -> None:
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_step

    data, config, vocab = tiny_training
    recipe = TrainRecipe(bf16=False, warmup=1, lr=5e-3, cross_weight=1.0, **TWINS)
    torch.manual_seed(0)
    state = new_state(BuiltinModel(config), recipe)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    losses = train_step(state, batch, recipe)
    assert set(losses) == {"pixel", "text", "cross"} and all(
        math.isfinite(v) for v in losses.values()
    )
    first = dict(losses)
    for _ in range(12):
        losses = train_step(state, batch, recipe)
    assert losses["cross"] < first["cross"] - 0.2 and losses["pixel"] < first["pixel"] - 0.2
