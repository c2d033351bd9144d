"""Small training utilities shared by every stage: learning-rate schedule and index batches."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch


def cosine_lr(optimizer: torch.optim.Optimizer, step: int, steps: int, lr: float) -> float:
    """Set a linear warm-up (5% of the steps) then cosine decay to 5% of ``lr``; returns it."""
    warm = max(1, steps // 20)
    if step < warm:
        value = lr * (step + 1) / warm
    else:
        t = (step - warm) / max(1, steps - warm)
        value = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))
    for group in optimizer.param_groups:
        group["lr"] = value
    return value


def index_batches(
    n: int, batch_size: int, steps: int, generator: torch.Generator, start: int = 0
) -> Iterator[tuple[int, torch.Tensor]]:
    """(step, indices) for steps ``start..steps-1``; epochs are fresh permutations of ``n``."""
    batch_size = min(batch_size, n)
    per_epoch = n // batch_size
    step = start
    epoch, offset = divmod(start, per_epoch)
    for _ in range(epoch):  # advance the generator as the skipped epochs did
        torch.randperm(n, generator=generator)
    while step < steps:
        order = torch.randperm(n, generator=generator)
        for k in range(offset, per_epoch):
            if step == steps:
                return
            yield step, order[k * batch_size : (k + 1) * batch_size]
            step += 1
        offset = 0


def autocast(device: str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA (tensor cores); a no-op on the CPU, where float32 is as fast."""
    if str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
