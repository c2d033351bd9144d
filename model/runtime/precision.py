"""Whether this CPU multiplies bfloat16 in hardware, so bf16 autocast is a gain and not a loss."""

from __future__ import annotations

import functools
import re
import time
from pathlib import Path

import torch


@functools.cache
def native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX). Elsewhere autocast
    emulates it: on an AVX2-only EPYC a training step took 21 s in bf16 against 1.5 s in float32,
    so bf16 is used (training recipes, open_clip's gallery batches) only where this says yes."""
    if cpuinfo.is_file():
        flags = set(re.findall(r"\b(avx512_bf16|amx_bf16)\b", cpuinfo.read_text()))
        return bool(flags)
    try:  # no /proc (not Linux): oneDNN's own answer
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


MARGIN = 0.05  # bfloat16 must be this share faster than float32 to be chosen


def bf16_faster(float32_s: float, bf16_s: float) -> bool:
    """Whether timings show bfloat16 clearly faster; float32, the exact one, wins a tie."""
    return bf16_s < float32_s * (1 - MARGIN)


def matmul_seconds(dtype: torch.dtype, side: int = 1024, repeats: int = 3) -> float:
    """The fastest of ``repeats`` square matmuls of ``side`` in ``dtype`` on this CPU."""
    a, b = torch.randn(side, side).to(dtype), torch.randn(side, side).to(dtype)
    a @ b  # warm-up: the first call picks and loads the kernel
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - began)
    return best


ROUNDS = 4  # turns of float32 then bfloat16 timed by :func:`bf16_matmul_pays`


def best_in_turns(rounds: int = ROUNDS) -> tuple[float, float]:
    """The fastest float32 and bfloat16 matmuls of ``rounds`` turns, one of each per turn: a
    burst of other work on the CPU slows both dtypes' turns alike, where timing all of one and
    then all of the other let a burst fall on one (the worker and the test process of one CI run
    chose differently, and the same collection's vectors came out in two precisions)."""
    best = {torch.float32: float("inf"), torch.bfloat16: float("inf")}
    for _ in range(rounds):
        for dtype in best:
            best[dtype] = min(best[dtype], matmul_seconds(dtype, repeats=1))
    return best[torch.float32], best[torch.bfloat16]


@functools.cache
def bf16_matmul_pays() -> bool:
    """Whether this CPU multiplies bfloat16 matrices clearly faster than float32: its flags
    first, then matmuls timed both ways in turns (a fraction of a second, once per process),
    because a CPU may report AVX-512 BF16 and still run bfloat16 matrices slower than float32
    (seen on a 2-core Xeon without AMX). What a transformer's gallery batches go by."""
    if not native_bf16():
        return False
    return bf16_faster(*best_in_turns())


PRECISIONS = ("auto", "float32", "bfloat16")  # the choices of ANYSEEK_MODEL__PRECISION


def gallery_precision(setting: str, *, device: str = "cpu", dtype: str = "float32") -> str:
    """The precision gallery vectors are computed in, from ``ANYSEEK_MODEL__PRECISION``:
    ``float32`` or ``bfloat16`` as asked; ``auto`` bfloat16 only on a CPU whose timed matmul
    shows it clearly faster (:func:`bf16_matmul_pays`), else float32. A model whose weights are
    loaded in another dtype (``ANYSEEK_MODEL__DTYPE``) computes everything in that one."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {setting!r}")
    if dtype != "float32":
        return dtype
    if setting == "auto":
        return "bfloat16" if device == "cpu" and bf16_matmul_pays() else "float32"
    return setting
