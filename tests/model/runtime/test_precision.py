"""bfloat16 is used where it is measured faster, not wherever a CPU flag names it."""

from __future__ import annotations

import pytest
import torch

from anyseek.model.runtime import precision
from anyseek.model.runtime.precision import MARGIN, bf16_faster, matmul_seconds


@pytest.mark.parametrize(
    ("bf16_s", "faster"), [(0.5, True), (1 - 2 * MARGIN, True), (1 - MARGIN / 2, False), (2, False)]
)
def test_bf16_must_be_clearly_faster(bf16_s: float, faster: bool) -> None:
    assert bf16_faster(1.0, bf16_s) is faster


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_matmul_is_timed_in_each_dtype(dtype: torch.dtype) -> None:
    assert 0 < matmul_seconds(dtype, side=64, repeats=2) < 5


def test_without_the_flags_nothing_is_timed_and_bf16_does_not_pay(monkeypatch) -> None:
    def untimed(*_: object, **__: object) -> float:
        raise AssertionError("timed a matmul on a CPU without bfloat16")

    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    monkeypatch.setattr(precision, "matmul_seconds", untimed)
    assert precision.bf16_matmul_pays.__wrapped__() is False


def test_with_the_flags_the_timing_decides(monkeypatch) -> None:
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    for float32_s, bf16_s, pays in ((1.0, 2.0, False), (1.0, 0.5, True)):
        seconds = {torch.float32: float32_s, torch.bfloat16: bf16_s}
        monkeypatch.setattr(precision, "matmul_seconds", lambda dtype, s=seconds, **_: s[dtype])
        assert precision.bf16_matmul_pays.__wrapped__() is pays


def test_the_dtypes_are_timed_in_turns_so_a_burst_slows_both(monkeypatch) -> None:
    """A burst of other work over the first half of the timings (float32's block, when each
    dtype was timed all at once) slows one turn of each dtype; the fastest of each still wins."""
    calls: list[torch.dtype] = []
    fast = {torch.float32: 1.0, torch.bfloat16: 0.5}

    def timed(dtype: torch.dtype, **_: object) -> float:
        calls.append(dtype)
        burst = len(calls) <= precision.ROUNDS
        return fast[dtype] * (3 if burst else 1)

    monkeypatch.setattr(precision, "matmul_seconds", timed)
    assert precision.best_in_turns() == (1.0, 0.5)
    assert calls == [torch.float32, torch.bfloat16] * precision.ROUNDS


@pytest.mark.parametrize("pays", [True, False])
def test_the_setting_resolves_to_what_gallery_vectors_are_computed_in(monkeypatch, pays) -> None:
    monkeypatch.setattr(precision, "bf16_matmul_pays", lambda: pays)
    chosen = "bfloat16" if pays else "float32"
    assert precision.gallery_precision("auto") == chosen  # the timed matmul decides
    assert precision.gallery_precision("auto", device="cuda") == "float32"  # as before on a GPU
    for forced in ("float32", "bfloat16"):  # asked for: honoured whatever the CPU
        assert precision.gallery_precision(forced) == forced
    assert precision.gallery_precision("auto", dtype="bfloat16") == "bfloat16"  # weights' dtype
    with pytest.raises(ValueError, match="auto, float32, bfloat16"):
        precision.gallery_precision("half")
