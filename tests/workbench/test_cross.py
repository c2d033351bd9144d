"""Pairs without the image (``anyseek.workbench.cross``): which rows pair, the loss, and a training
step
that is the same as before when the recipe leaves them off and learns them when it turns them on."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from anyseek.workbench.cross import (
    check_cross_pairs,
    cross_loss,
    modality_rows,
    pairs_of,
    partners,
    second_kinds,
)
from anyseek.workbench.recipe import TrainRecipe, load_recipe
from anyseek.workbench.train import Batcher

QUERIES = ("depth", "normal", "semseg", "sketch", "edges")


def test_pairs_are_checked_and_every_pair_is_the_default(tmp_path: Path) -> None:
    for pairs, said in (
        ([["caption", "dept"]], "unknown modalities ['dept']"),
        ([["caption", "rgb"]], "unknown modalities ['rgb']"),
        ([["sketch", "sketch"]], "with itself"),
        ([["caption"]], "not a pair"),
    ):
        with pytest.raises(ValueError, match=re.escape(said)):
            check_cross_pairs(pairs)
    recipe = tmp_path / "r.json"
    listed = [["caption", "depth"], ["sketch", "semseg"]]
    recipe.write_text(json.dumps({"name": "r", "train": {"cross_pairs": listed}}))
    assert load_recipe(str(recipe)).train.cross_pairs == (
        ("caption", "depth"),
        ("sketch", "semseg"),
    )
    every = pairs_of((), QUERIES)
    assert len(every) == 15 and ("caption", "edges") in every and ("depth", "edges") in every
    assert pairs_of((("caption", "depth"), ("caption", "x")), ("depth",)) == (("caption", "depth"),)


def test_a_second_query_is_a_listed_partner_of_the_first() -> None:
    pairs = (("caption", "depth"), ("sketch", "semseg"), ("sketch", "depth"))
    assert partners(pairs, QUERIES) == [[3], [], [3], [2, 0], []]
    torch.manual_seed(0)
    first = torch.randint(len(QUERIES), (400,))
    second = second_kinds(first, pairs, QUERIES, share=1.0)
    sketch, semseg, depth = (QUERIES.index(q) for q in ("sketch", "semseg", "depth"))
    assert (second[first == semseg] == sketch).all() and (second[first == depth] == sketch).all()
    assert set(second[first == sketch].tolist()) == {semseg, depth}
    assert (second[(first == 1) | (first == 4)] == -1).all()  # normal, edges: no partner
    half = second_kinds(first, pairs, QUERIES, share=0.5)
    assert 0.35 < float((half >= 0).sum() / (second >= 0).sum()) < 0.65
    assert (second_kinds(first, (("caption", "depth"),), QUERIES, share=1.0) == -1).all()


def test_the_loss_pairs_the_rows_that_show_both_and_rewards_agreement() -> None:
    torch.manual_seed(0)
    texts = F.normalize(torch.randn(8, 16), dim=1)
    groups = {
        "depth": (torch.tensor([0, 2, 4, 6]), None),
        "sketch": (torch.tensor([1, 3, 5, 7]), None),
    }
    second = {"depth": (torch.tensor([1, 3]), None)}  # rows 1 and 3 show a sketch and a depth map
    agree = torch.cat([texts[[0, 2, 4, 6]], texts[[1, 3, 5, 7]]])  # each as its caption
    rows = modality_rows(texts, [(groups, agree), (second, texts[[1, 3]])])
    assert rows["depth"][1].tolist() == [True, True, True, True, True, False, True, False]
    assert torch.equal(rows["depth"][0][3], texts[3])
    scale = torch.tensor(10.0)
    good = cross_loss(rows, (("caption", "depth"), ("sketch", "depth")), scale)
    shuffled = modality_rows(texts, [(groups, agree.flip(0)), (second, texts[[3, 1]])])
    bad = cross_loss(shuffled, (("caption", "depth"), ("sketch", "depth")), scale)
    assert good is not None and bad is not None and good < bad
    assert cross_loss(rows, (("normal", "depth"),), scale) is None  # no row shows a normal map


def _step(tiny_training: tuple, recipe: TrainRecipe, seed: int = 0) -> tuple:
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_step

    data, config, vocab = tiny_training
    torch.manual_seed(seed)
    state = new_state(BuiltinModel(config), recipe)
    batch = Batcher(data, vocab, recipe, QUERIES, random.Random(seed)).batch(16)
    return state, batch, train_step(state, batch, recipe)


def test_off_the_step_is_the_step_before_and_on_it_learns_the_pairs(tiny_training: tuple) -> None:
    from anyseek.workbench.train import train_step

    plain = TrainRecipe(bf16=False, warmup=1)
    state, batch, losses = _step(tiny_training, plain)
    listed = TrainRecipe(bf16=False, warmup=1, cross_pairs=(("caption", "depth"),))
    same_state, same_batch, same = _step(tiny_training, listed)  # weight 0: off
    assert batch["second"] is None is same_batch["second"]
    assert all(torch.equal(batch["groups"][n][1], same_batch["groups"][n][1]) for n in QUERIES)
    assert same == losses and "cross" not in losses
    for a, b in zip(state.model.parameters(), same_state.model.parameters(), strict=True):
        assert torch.equal(a, b)

    on = TrainRecipe(bf16=False, warmup=1, lr=5e-3, cross_weight=1.0, cross_second=1.0)
    state, batch, losses = _step(tiny_training, on)
    assert batch["second"] is not None and losses["cross"] > 0
    assert set(losses) == {"pixel", "text", "cross"}
    first = losses["cross"]
    for _ in range(12):
        losses = train_step(state, batch, on)
    assert losses["cross"] < first - 0.2  # the pairs are learnt
