"""Training plumbing of the built-in model: step-addressed batches, parallel loading, export."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from model.train.fm_train import FMTrainConfig, StepBatches, step_loader


def _config(steps: int = 6) -> FMTrainConfig:
    return FMTrainConfig(
        dim=32, encoder_depth=1, decoder_depth=1, num_heads=2, steps=steps, batch_size=4
    )


def _same(a, b) -> bool:
    """Two step batches (tensors, soft labels, anchors) hold equal tensors."""
    (ta, *extra_a), (tb, *extra_b) = a, b
    if ta.keys() != tb.keys():
        return False
    tensors = all(torch.equal(x, y) for k in ta for x, y in zip(ta[k], tb[k], strict=True))
    for xa, xb in zip(extra_a, extra_b, strict=True):
        if (xa is None) != (xb is None):
            return False
        if xa is not None and not all(torch.equal(xa[k], xb[k]) for k in xa):
            return False
    return tensors


def test_a_step_batch_depends_only_on_seed_and_step(tiny_training_set) -> None:
    data = tiny_training_set
    batches = StepBatches(data, _config(), seed=3)
    assert _same(batches[5], StepBatches(data, _config(), seed=3)[5])  # fresh object, same batch
    assert not _same(batches[5], batches[4])
    assert not _same(batches[5], StepBatches(data, _config(), seed=4)[5])
    epoch = torch.cat([batches.indices(k) for k in range(batches.per_epoch)])
    assert sorted(epoch.tolist()) == list(range(len(data.scenes)))  # an epoch is a permutation


@pytest.mark.timeout(120)
def test_worker_processes_build_the_same_batches_in_order_and_resume_midway(
    tiny_training_set,
) -> None:
    data = tiny_training_set
    config = replace(_config(), target_temperature=None)
    batches = StepBatches(data, config, seed=0)
    inline = list(step_loader(batches, 0, workers=0, pin=False))
    parallel = list(step_loader(batches, 0, workers=2, pin=False))
    resumed = list(step_loader(batches, 4, workers=2, pin=False))
    assert len(inline) == config.steps
    assert all(_same(a, b) for a, b in zip(inline, parallel, strict=True))
    assert all(_same(a, b) for a, b in zip(inline[4:], resumed, strict=True))


@pytest.mark.timeout(180)
def test_parallel_split_loading_equals_sequential_after_torch_used_threads(tmp_path) -> None:
    from model.data.synth import SynthRequest, synthesize
    from model.data.tensors import load_split

    synthesize(SynthRequest(out=tmp_path, n=12, seed=5, split="train"), progress=False)
    torch.randn(512, 512) @ torch.randn(512, 512)  # the parent's thread pool is now running
    one = load_split(tmp_path, "train", workers=1, chunk=5, progress=False)
    many = load_split(tmp_path, "train", workers=2, chunk=5, progress=False)  # used to hang
    assert len(many) == 12 and many.captions == one.captions and many.seeds == one.seeds
    for name in ("rgb", "depth", "normal", "semseg", "edges", "sketch"):
        assert torch.equal(getattr(many, name), getattr(one, name)), name


def test_export_casts_floating_weights_and_keeps_integer_ones(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from model.train.pipeline import _export_safetensors

    tensors = {"w": torch.randn(3, 4), "ids": torch.arange(5)}
    _export_safetensors(tensors, tmp_path / "x" / "model.safetensors", torch.float16)
    back = load_file(str(tmp_path / "x" / "model.safetensors"))
    assert back["w"].dtype == torch.float16 and back["ids"].dtype == torch.int64
    torch.testing.assert_close(back["w"].float(), tensors["w"], atol=2e-3, rtol=1e-3)
    assert torch.equal(back["ids"], tensors["ids"])


def test_loading_a_split_in_this_process_keeps_its_thread_count(tmp_path) -> None:
    from model.data.synth import SynthRequest, synthesize
    from model.data.tensors import load_split

    synthesize(SynthRequest(out=tmp_path, n=3, seed=1, split="train"), progress=False)
    before = torch.get_num_threads()
    load_split(tmp_path, "train", workers=1, progress=False)
    assert torch.get_num_threads() == before


@pytest.mark.timeout(180)
def test_an_interrupted_data_stage_keeps_finished_splits_and_a_rerun_regenerates(tmp_path) -> None:
    from model.train.pipeline import Run, run_pipeline
    from model.train.recipe import load_recipe

    config = replace(load_recipe("ci"), n_train=6, n_gallery=3, workers=1)
    run = Run(config, tmp_path / "run")
    run_pipeline(run, only="data")
    train = run.out / "tensors" / "train.pt"
    first = train.stat().st_mtime_ns
    (run.out / "stages" / "data.json").unlink()  # as if stopped before the stage finished
    (run.out / "tensors" / "gallery.pt").unlink()
    run_pipeline(run, only="data")
    assert train.stat().st_mtime_ns == first  # the finished split was kept
    assert (run.out / "tensors" / "gallery.pt").is_file()  # the missing one was made
    run_pipeline(run, only="data")  # an explicit re-run of a finished stage starts over
    assert train.stat().st_mtime_ns != first
