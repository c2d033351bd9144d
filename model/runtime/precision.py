"""Whether this CPU multiplies bfloat16 in hardware, so bf16 autocast is a gain and not a loss."""

from __future__ import annotations

import functools
import re
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
