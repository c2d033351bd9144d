"""One-object caption rows *beside* each scene's caption (``train.object_rows``): what a batch
brings, the one-way loss they train with, and a step that learns from them."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from anyseek.workbench.contrastive import one_way_nce
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher

QUERIES = ("depth", "sketch")


def test_the_one_way_loss_counts_every_fitting_scene_right() -> None:
    a, b = F.normalize(torch.randn(4, 8), dim=1), F.normalize(torch.randn(6, 8), dim=1)
    scale = torch.tensor(10.0)
    own = torch.zeros(4, 6, dtype=torch.bool)
    own[torch.arange(4), torch.arange(4)] = True
    plain = one_way_nce(a, b, scale, own)
    logits = scale * a @ b.t()
    assert torch.allclose(plain, F.cross_entropy(logits, torch.arange(4)))
    more = own.clone()
    more[:, 5] = True  # scene 5 has every object named: less to push apart
    assert one_way_nce(a, b, scale, more) < plain


def test_off_a_batch_has_no_object_rows_and_on_each_row_fits_its_own_scene(
    tiny_training: tuple,
) -> None:
    data, _, vocab = tiny_training
    off = Batcher(data, vocab, TrainRecipe(), QUERIES, random.Random(0)).batch(16)
    assert off["objects"] is None and len(off["words"]) == 16
    on = TrainRecipe(object_rows=1.0)
    batcher = Batcher(data, vocab, on, QUERIES, random.Random(0))
    torch.manual_seed(3)
    batch = batcher.batch(16)
    fit = batch["objects"]
    assert fit is not None and fit.shape == (len(batch["words"]) - 16, 16)
    assert len(fit) >= 12 and fit.any(1).all()
    assert fit.sum() > len(fit)  # some object is in more than one scene of the batch
    # the scene captions are the ones a batch without object rows shows
    torch.manual_seed(3)
    plain = Batcher(data, vocab, TrainRecipe(), QUERIES, random.Random(0)).batch(16)
    assert torch.equal(batch["rgb"], plain["rgb"])


def test_a_step_with_object_rows_learns_them(tiny_training: tuple) -> None:
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_step

    data, config, vocab = tiny_training
    recipe = TrainRecipe(bf16=False, warmup=1, lr=5e-3, object_rows=1.0)
    torch.manual_seed(0)
    state = new_state(BuiltinModel(config), recipe)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    losses = train_step(state, batch, recipe)
    assert set(losses) == {"pixel", "text", "objects"}
    first = losses["objects"]
    for _ in range(12):
        losses = train_step(state, batch, recipe)
    assert losses["objects"] < first - 0.2


def test_both_ways_the_object_rows_join_the_caption_loss(tiny_training: tuple) -> None:
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_step

    data, config, vocab = tiny_training
    recipe = TrainRecipe(bf16=False, warmup=1, lr=5e-3, object_rows=1.0, object_rows_both_ways=True)
    torch.manual_seed(0)
    state = new_state(BuiltinModel(config), recipe)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(0)).batch(16)
    losses = train_step(state, batch, recipe)
    assert set(losses) == {"pixel", "text"}  # no one-way term: the rows are in the text loss
    first = losses["text"]
    for _ in range(12):
        losses = train_step(state, batch, recipe)
    assert losses["text"] < first - 0.2
