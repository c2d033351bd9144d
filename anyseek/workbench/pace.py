"""Which precision trains faster on this CPU, measured: a few real steps in each, on a copy.

A CPU flag says whether bfloat16 is multiplied in hardware, not whether autocast pays: on a
2-core Xeon with AVX-512 BF16 and no AMX a step of the shipped recipe ran slower in bfloat16 than
in float32 (``lab/results/train_pace.md``). So a run whose recipe allows bfloat16 times the
same batch both ways before it trains and keeps the faster; float32, the exact one, wins a tie.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace
from typing import Any

import torch

from anyseek.model.runtime.precision import bf16_faster
from anyseek.workbench.recipe import TrainRecipe
from anyseek.workbench.train import Batcher, TrainState, train_step


@dataclass(frozen=True)
class PrecisionTrial:
    """Seconds per training step of one batch, in float32 and under bfloat16 autocast."""

    float32_s: float
    bf16_s: float

    @property
    def bf16(self) -> bool:
        """Whether bfloat16 autocast is clearly the faster."""
        return bf16_faster(self.float32_s, self.bf16_s)

    @property
    def seconds(self) -> float:
        """Seconds per step in the precision chosen."""
        return self.bf16_s if self.bf16 else self.float32_s

    @property
    def chosen(self) -> str:
        """The precision the run trains in, as the model card names it."""
        return "bf16 autocast" if self.bf16 else "float32"

    def describe(self) -> str:
        """One line for ``train.log``."""
        return (
            f"precision: {self.chosen} (a step took {self.float32_s:.2f} s in float32 and "
            f"{self.bf16_s:.2f} s under bf16 autocast on this CPU)"
        )

    def to_json(self) -> dict[str, Any]:
        """What the run folder keeps (``precision.json``)."""
        return {"float32_s": self.float32_s, "bf16_s": self.bf16_s, "chosen": self.chosen}


def step_seconds(
    state: TrainState, batch: dict[str, Any], recipe: TrainRecipe, *, bf16: bool, repeats: int
) -> float:
    """The fastest of ``repeats`` steps on ``batch`` (after one to warm up), on a copy of
    ``state`` so the run's weights and optimiser are untouched."""
    trial = copy.deepcopy(state)
    trial.bf16 = True  # the recipe's flag decides
    timed = replace(recipe, bf16=bf16)
    train_step(trial, batch, timed)
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        train_step(trial, batch, timed)
        times.append(time.perf_counter() - began)
    return round(min(times), 4)


def time_precisions(
    state: TrainState, batcher: Batcher, recipe: TrainRecipe, repeats: int = 2
) -> PrecisionTrial:
    """Time one batch's step both ways; the batcher's and torch's random state are put back, so
    the run draws the batches it would have drawn without the trial."""
    kept_rng, kept_torch = batcher.rng.getstate(), torch.get_rng_state()
    try:
        batch = batcher.batch(recipe.batch)
        float32 = step_seconds(state, batch, recipe, bf16=False, repeats=repeats)
        bf16 = step_seconds(state, batch, recipe, bf16=True, repeats=repeats)
    finally:
        batcher.rng.setstate(kept_rng)
        torch.set_rng_state(kept_torch)
    return PrecisionTrial(float32, bf16)
