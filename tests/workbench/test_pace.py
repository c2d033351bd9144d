"""The measured choice of training precision: a trial on a copy that leaves the run as it was."""

from __future__ import annotations

import random

import pytest
import torch

from anyseek.model.runtime.precision import MARGIN
from anyseek.workbench.pace import PrecisionTrial, time_precisions
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher, new_state


@pytest.mark.parametrize(
    ("bf16_s", "chosen"),
    [(0.5, "bf16 autocast"), (1.0 - MARGIN / 2, "float32"), (1.0, "float32"), (1.3, "float32")],
)
def test_bf16_is_chosen_only_when_clearly_faster(bf16_s: float, chosen: str) -> None:
    trial = PrecisionTrial(float32_s=1.0, bf16_s=bf16_s)
    assert trial.chosen == chosen and trial.bf16 == (chosen != "float32")
    assert trial.to_json()["chosen"] == chosen and chosen in trial.describe()


def test_the_trial_times_both_ways_and_leaves_the_run_untouched(tiny_training: tuple) -> None:
    from anyseek.model.builtin.network import BuiltinModel

    data, config, vocab = tiny_training
    recipe = TrainRecipe(batch=16, warmup=1, cell_weight=1.0, cross_weight=0.5)
    queries = ("sketch", "semseg")

    def run_state() -> tuple:
        torch.manual_seed(3)
        state = new_state(BuiltinModel(config), recipe)
        return state, Batcher(data, vocab, recipe, queries, random.Random(5))

    state, batcher = run_state()
    weights = {k: v.clone() for k, v in state.model.state_dict().items()}
    trial = time_precisions(state, batcher, recipe, repeats=1)
    assert trial.float32_s > 0 and trial.bf16_s > 0
    assert state.step == 0 and not state.optimizer.state  # the copy trained, not the run
    assert all(torch.equal(v, weights[k]) for k, v in state.model.state_dict().items())
    after_trial = batcher.batch(16)
    _, untried = run_state()
    untried_batch = untried.batch(16)  # what the run would have drawn without the trial
    assert torch.equal(after_trial["rgb"], untried_batch["rgb"])
    assert torch.equal(after_trial["words"], untried_batch["words"])
