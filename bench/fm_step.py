"""Benchmark one FM training step: ms/step, samples/s, model FLOPs, achieved TFLOP/s and MFU.

PYTHONPATH=. python bench/fm_step.py [--recipe gpu] [--device cpu|cuda] [--batch 512]
    [--dtype float32|bfloat16] [--compile [--compile-mode reduce-overhead]] [--path packed|masked]

Builds the FM of a recipe (default: the GPU recipe's size), random scenes of the recipe's
resolution and the recipe's masking, and times full training steps (forward, backward, gradient
clipping, AdamW) on a few pre-built batches already on the device, so batch building is not
measured (in training, DataLoader workers do it ahead). ``--path masked`` is the step before the
packed batches: ``masked_loss``, a host read of every loss each step and the unfused AdamW.
``--dtype bfloat16``
runs the forward under bf16 autocast (what training does on CUDA); MFU is against the device's
dense peak at that dtype (the table for known GPUs, a measured matmul elsewhere).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from dataclasses import replace
from pathlib import Path

import torch


def synthetic_data(config, n: int, vocab: int, live: int, soft: bool):
    """A TrainingSet of ``n`` random scenes with captions and (soft) global-token targets."""
    from model.bundle.definition import BUILTIN
    from model.data.tensors import SceneTensors
    from model.train.fm_train import TrainingSet

    g = torch.Generator().manual_seed(0)
    s = config.resolution
    scenes = SceneTensors(
        rgb=torch.randint(0, 256, (n, 3, s, s), dtype=torch.uint8, generator=g),
        depth=torch.randn(n, s, s, generator=g).half(),
        normal=(torch.rand(n, 3, s, s, generator=g) * 2 - 1).half(),
        semseg=torch.randint(0, 7, (n, s, s), dtype=torch.uint8, generator=g),
        edges=torch.rand(n, s, s, generator=g) > 0.8,
        sketch=torch.rand(n, s, s, generator=g) > 0.9,
        captions=[("a red cube",)] * n,
    )
    L = config.max_caption_tokens
    ids = torch.randint(10, vocab, (n, 2, L), generator=g)
    length = torch.randint(4, L, (n, 2, 1), generator=g)
    position = torch.arange(L)
    ids = torch.where(position == length, 3, ids).masked_fill(position > length, 0)
    spaces = BUILTIN.outputs
    targets = {name: torch.randint(0, live, (n, 16), generator=g) for name in spaces}
    scores = {name: torch.randn(n, 16, live, generator=g) for name in spaces} if soft else None
    return TrainingSet(scenes, ids, targets, scores, text_vocab=vocab)


def main() -> None:
    """Time the step and print (and optionally append as JSON) its speed and MFU."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default="gpu")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default=None)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--compile-mode", default="default")
    parser.add_argument("--path", choices=["packed", "masked"], default="packed")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="append the result as a JSON line")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from model.fourm.network import FourM
    from model.train.flops import StepShape, device_peak, step_flops
    from model.train.fm_train import PackedStepBatches, StepBatches, masked_loss
    from model.train.packed import packed_loss
    from model.train.recipe import load_recipe
    from model.train.step import compiled, make_optimizer

    recipe = load_recipe(args.recipe)
    config = replace(recipe.fm, batch_size=args.batch or recipe.fm.batch_size)
    options = replace(recipe.fm_step, compile=args.compile, compile_mode=args.compile_mode)
    if args.path == "masked":  # the step as it was: the unfused AdamW too
        options = replace(options, fused_optimizer=False)
    cuda = args.device.startswith("cuda")
    dtype = getattr(torch, args.dtype or ("bfloat16" if cuda else "float32"))
    live = recipe.tokenizer.live_codes or 8192
    soft = config.target_temperature is not None
    data = synthetic_data(config, config.batch_size, recipe.text_vocab, live, soft)

    torch.manual_seed(0)
    model = (
        FourM(config.fourm_config(tuple(data.targets), recipe.text_vocab)).to(args.device).train()
    )
    optimizer = make_optimizer(
        [{"params": list(model.parameters()), "weight_decay": 0.05}],
        config.lr,
        args.device,
        options,
    )
    packed = args.path == "packed"
    source = (
        PackedStepBatches(data, config, 0, static=args.compile)
        if packed
        else StepBatches(data, config, 0)
    )
    batches = [_to_device(source[k], args.device, packed) for k in range(4)]
    loss_fn = compiled(packed_loss, options) if packed else masked_loss
    autocast = (
        torch.autocast(args.device.split(":")[0], dtype=dtype)
        if dtype != torch.float32
        else contextlib.nullcontext()
    )

    def step(k: int) -> torch.Tensor:
        batch, labels = batches[k % len(batches)]
        with autocast:
            loss, _ = loss_fn(model, batch, live, labels)  # masked: reads every part
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if not packed:
            loss.item()  # the old loop read the loss every step
        return loss

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    t0 = time.perf_counter()
    for k in range(args.warmup):
        step(k)
    sync()
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(args.steps):
        step(k)
    sync()
    seconds = (time.perf_counter() - t0) / args.steps

    masking = config.masking
    shape = StepShape(config.batch_size, masking.input_budget, masking.target_budget, live)
    flops = step_flops(model.config, shape).step
    peak, peak_source = device_peak(args.device, dtype)
    result = {
        "recipe": args.recipe,
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if cuda else "cpu",
        "threads": torch.get_num_threads(),
        "batch": config.batch_size,
        "dtype": str(dtype).removeprefix("torch."),
        "compile": args.compile,
        "compile_mode": args.compile_mode if args.compile else None,
        "path": args.path,
        "ms_per_step": 1000 * seconds,
        "samples_per_s": config.batch_size / seconds,
        "gflop_per_step": flops / 1e9,
        "tflop_per_s": flops / seconds / 1e12,
        "peak_tflop_per_s": peak / 1e12,
        "peak_source": peak_source,
        "mfu": flops / seconds / peak,
        "warmup_s": warmup_s,
        "torch": torch.__version__,
    }
    for key, value in result.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    if args.out is not None:
        with args.out.open("a") as f:
            f.write(json.dumps(result) + "\n")


def _to_device(item, device: str, packed: bool):
    """A (batch, soft labels, anchors) item of the step dataset, on ``device``."""
    from model.fourm.batch import ModalityTokens

    batch, soft, _ = item  # the bench runs the 4M loss alone: no alignment anchors
    if packed:
        batch = batch.to(device)
    else:
        batch = {k: ModalityTokens(*(t.to(device) for t in v)) for k, v in batch.items()}
    if soft is not None:
        soft = {k: v.to(device) for k, v in soft.items()}
    return batch, soft


if __name__ == "__main__":
    main()
