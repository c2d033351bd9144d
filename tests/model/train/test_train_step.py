"""The FM training step: FLOP accounting, the sync-free packed loss, and the speed meter."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from model.fourm.batch import ModalityTokens
from model.fourm.network import FourM
from model.train.flops import StepShape, mfu, step_flops, table_peak
from model.train.fm_train import (
    FMTrainConfig,
    PackedStepBatches,
    StepBatches,
    masked_loss,
    train_fm,
)
from model.train.packed import packed_loss
from model.train.step import StepMeter, StepOptions

CONFIG = FMTrainConfig(dim=48, encoder_depth=2, decoder_depth=2, num_heads=2, batch_size=8)


def _model(data) -> FourM:
    torch.manual_seed(0)
    return FourM(CONFIG.fourm_config(tuple(data.targets)))


def _reference_batch(data, step: int) -> tuple[dict[str, ModalityTokens], dict | None]:
    tensors, soft, _ = StepBatches(data, CONFIG, seed=0)[step]
    return {k: ModalityTokens(*v) for k, v in tensors.items()}, soft


def test_step_flops_equal_what_torch_counts(tiny_training_set) -> None:
    """The formula counts the matmuls autograd runs, forward and backward, of a real batch."""
    model = _model(tiny_training_set)
    packed, soft, _ = PackedStepBatches(tiny_training_set, CONFIG, seed=0)[0]
    T, M = packed.index.shape[1], sum(t.positions.shape[1] for t in packed.targets)
    # the math kernel runs attention as counted matmuls (the CPU flash kernel is not counted)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        loss, _ = packed_loss(model, packed, 32, soft)
        forward = counter.get_total_flops()
        loss.backward()
    expected = step_flops(model.config, StepShape(8, T, M, 32))
    assert (CONFIG.masking.input_budget, CONFIG.masking.target_budget) == (T, M)
    assert expected.forward == pytest.approx(forward, rel=0.01)
    assert expected.step == pytest.approx(counter.get_total_flops(), rel=0.01)


def test_peaks_of_known_devices_and_mfu() -> None:
    """Dense bf16 peaks by device name (PCIe H100 before the SXM default); MFU is a ratio."""
    assert table_peak("NVIDIA H100 80GB HBM3", torch.bfloat16) == 989e12
    assert table_peak("NVIDIA H100 PCIe", torch.bfloat16) == 756e12
    assert table_peak("NVIDIA H200", torch.bfloat16) == 989e12
    assert table_peak("NVIDIA A100-SXM4-80GB", torch.float32) == 156e12  # TF32
    assert table_peak("Some CPU", torch.bfloat16) is None
    assert mfu(2e12, 0.5, 8e12) == pytest.approx(0.5)


@pytest.mark.parametrize("static", [False, True])
def test_packed_loss_and_gradients_equal_the_masked_loss(tiny_training_set, static) -> None:
    """Packing on the host (also padded to fixed shapes) changes nothing the model computes."""
    model = _model(tiny_training_set)
    params = list(model.parameters())
    batch, soft = _reference_batch(tiny_training_set, 3)
    for live, labels in ((32, soft), (None, None)):
        reference, parts = masked_loss(model, batch, live, labels)
        expected = torch.autograd.grad(reference, params, allow_unused=True)
        packed, *_ = PackedStepBatches(tiny_training_set, CONFIG, seed=0, static=static)[3]
        loss, got_parts = packed_loss(model, packed, live, labels)
        got = torch.autograd.grad(loss, params, allow_unused=True)
        torch.testing.assert_close(loss, reference)
        assert {k: v.item() for k, v in got_parts.items()} == pytest.approx(parts)
        for a, b in zip(expected, got, strict=True):
            assert (a is None) == (b is None)
            if a is not None:
                torch.testing.assert_close(a, b)


def test_packed_loss_compiles_to_one_graph(tiny_training_set) -> None:
    """No data-dependent host read is left in the forward: it traces without a graph break."""
    model = _model(tiny_training_set)
    packed, soft, _ = PackedStepBatches(tiny_training_set, CONFIG, seed=0, static=True)[0]
    explained = torch._dynamo.explain(packed_loss)(model, packed, 32, soft)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0)


def test_meter_reads_window_means_and_speed() -> None:
    """Losses are summed on the device and read once per window, with the window's speed."""
    meter = StepMeter(batch=4, flops_per_step=10**9, peak=1e12, options=StepOptions(log_every=2))
    due = []
    for step, value in enumerate([1.0, 3.0, 5.0]):
        meter.add(torch.tensor(value), {"a": torch.tensor(2 * value)})
        if meter.due(step, last=2):
            due.append((step, meter.read()))
    assert [s for s, _ in due] == [1, 2]
    first, last = due[0][1], due[1][1]
    assert (first["loss"], first["a"], first["steps"]) == (2.0, 4.0, 2.0)
    assert (last["loss"], last["steps"]) == (5.0, 1.0)
    assert first["samples/s"] == pytest.approx(4 / first["s/step"])
    assert first["mfu"] == pytest.approx(1e9 / first["s/step"] / 1e12)


def test_training_reports_every_n_steps(tiny_training_set, tmp_path) -> None:
    """Progress comes every ``log_every`` steps and at the last, with losses and speed."""
    config = FMTrainConfig(
        dim=32, encoder_depth=1, decoder_depth=1, num_heads=2, steps=5, batch_size=8
    )
    seen: list[tuple[int, dict]] = []
    train_fm(
        tiny_training_set,
        config,
        tmp_path / "state.pt",
        progress=lambda step, info: seen.append((step, info)),
        live=32,
        options=StepOptions(log_every=2),
    )
    assert [s for s, _ in seen] == [1, 3, 4]
    assert [i["steps"] for _, i in seen] == [2.0, 2.0, 1.0]
    for _, info in seen:
        assert torch.isfinite(torch.tensor(info["loss"]))
        assert {"tok_clip_global", "samples/s", "step_ms", "mfu"} <= set(info)
        assert 0 < info["mfu"] < 1


@pytest.mark.slow
def test_compiled_steps_train_like_eager_ones(tiny_training_set, tmp_path) -> None:
    """``fm_step.compile`` (fixed-shape batches, one graph) reaches the eager run's losses."""
    config = FMTrainConfig(
        dim=32, encoder_depth=1, decoder_depth=1, num_heads=2, steps=4, batch_size=8
    )
    runs = []
    for compile_ in (False, True):
        seen: list[float] = []
        train_fm(
            tiny_training_set,
            config,
            tmp_path / f"state-{compile_}.pt",
            progress=lambda step, info, seen=seen: seen.append(info["loss"]),
            live=32,
            options=StepOptions(log_every=2, compile=compile_),
        )
        runs.append(seen)
    assert runs[1] == pytest.approx(runs[0], rel=1e-4)
