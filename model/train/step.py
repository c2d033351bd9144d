"""How the FM training step uses its device: options, optimiser, compilation, and its meter.

:class:`StepOptions` is the recipe section ``fm_step``. Options that change numerics beyond float
tolerance (TF32, compilation) are off unless a recipe turns them on; the fused AdamW kernel (the
same update within float tolerance) is on for CUDA.
:class:`StepMeter` keeps the losses on the device and reads them every ``log_every`` steps, so
the step itself never waits for the device; each read reports the window's step time, samples/s
and model FLOPs utilisation.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from model.train.flops import mfu


@dataclass(frozen=True)
class StepOptions:
    """Device-efficiency switches of the FM step (recipe section ``fm_step``)."""

    log_every: int = 25
    """Steps between loss reads (each read is one host-device sync) and progress reports."""
    compile: bool = False
    """``torch.compile`` the loss (forward); batches are then padded to fixed shapes."""
    compile_mode: str = "default"
    """``torch.compile`` mode: ``default``, ``reduce-overhead`` (CUDA graphs), ``max-autotune``."""
    tf32: bool = False
    """Allow TF32 for the float32 matmuls left outside bf16 autocast on CUDA (numerics change)."""
    fused_optimizer: bool = True
    """The fused AdamW kernel on CUDA (the same update within float tolerance)."""


@contextlib.contextmanager
def matmul_precision(device: str, options: StepOptions) -> Iterator[None]:
    """Allow TF32 matmuls on CUDA inside the block if the options say so; restore afterwards."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    if str(device).startswith("cuda") and options.tf32:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def make_optimizer(
    groups: list[dict], lr: float, device: str, options: StepOptions
) -> torch.optim.Optimizer:
    """AdamW (betas 0.9, 0.95) over ``groups``; the fused kernel on CUDA when allowed."""
    fused = str(device).startswith("cuda") and options.fused_optimizer
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=fused or None)


def compiled(fn: Callable, options: StepOptions) -> Callable:
    """``fn`` compiled as the options ask, or ``fn`` itself."""
    if not options.compile:
        return fn
    return torch.compile(fn, mode=options.compile_mode)


class StepMeter:
    """Window sums of the step losses on the device, read (one sync) when a report is due."""

    def __init__(
        self, batch: int, flops_per_step: int, peak: float, options: StepOptions | None = None
    ) -> None:
        self.options = options or StepOptions()
        self.batch, self.flops, self.peak = batch, flops_per_step, peak
        self.every = max(1, self.options.log_every)
        self._sums: dict[str, Tensor] = {}
        self._steps = 0
        self._start = time.perf_counter()

    def add(self, loss: Tensor, parts: dict[str, Tensor]) -> None:
        """Accumulate one step's loss and per-target parts without reading them."""
        for name, value in (("loss", loss), *parts.items()):
            # a copy: a CUDA-graph replay overwrites its outputs in place on the next step
            value = value.detach().float()
            self._sums[name] = value.clone() if name not in self._sums else self._sums[name] + value
        self._steps += 1

    def due(self, step: int, last: int) -> bool:
        """Whether step ``step`` (of steps ending at ``last``) closes a window."""
        return (step + 1) % self.every == 0 or step == last

    def read(self, synchronize: Callable[[], None] | None = None) -> dict[str, float]:
        """Window means of the losses, and the window's speed; starts the next window."""
        means = {k: float(v) / self._steps for k, v in self._sums.items()}  # the one sync
        if synchronize is not None:
            synchronize()  # the optimiser step of the window's last batch is done too
        now = time.perf_counter()
        seconds = (now - self._start) / self._steps
        info = {
            **means,
            "steps": float(self._steps),
            "s/step": seconds,
            "step_ms": 1000 * seconds,
            "samples/s": self.batch / seconds,
            "tflop/s": self.flops / seconds / 1e12,
            "mfu": mfu(self.flops, seconds, self.peak),
            "flop/step": float(self.flops),
            "peak_flop/s": self.peak,
        }
        self._sums, self._steps, self._start = {}, 0, now
        return info


def speed_summary(windows: Iterable[dict[str, float]]) -> dict[str, float]:
    """Median step time, samples/s and MFU over the reported windows (the first, warm-up, left out
    when there are others)."""
    rows = list(windows)
    rows = rows[1:] if len(rows) > 1 else rows
    if not rows:
        return {}
    ms = sorted(r["step_ms"] for r in rows)[len(rows) // 2]
    pick = next(r for r in rows if r["step_ms"] == ms)
    return {
        "step_ms_median": ms,
        "samples_per_s": pick["samples/s"],
        "tflop_per_s": pick["tflop/s"],
        "mfu": pick["mfu"],
        "flops_per_step": pick["flop/step"],
        "peak_flop_per_s": pick["peak_flop/s"],
    }
