"""Benchmark the retrieval path: rgb@224 -> {tok_dinov2_global, tok_imagebind_global} vectors.

Measures images/s and achieved FLOP/s of ``FourM.predict_embeddings`` (one encoder pass, one
decoder pass for both spaces, batched) with the 4M-21 B architecture and random weights, and
the same prediction done the straightforward way: one image and one target at a time with a
step-by-step ROAR sampler (16 steps, each a full encoder + decoder pass, like the reference
sampler with one token per step). Prints a markdown report.

    python bench/fourm_embeddings.py                          # CPU, float32
    python bench/fourm_embeddings.py --device cuda --dtype bfloat16 --batch 256
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch import Tensor

from anyseek.model import FourM, FourMConfig, GenerationTarget
from anyseek.model.fourm.inference.predict import predict_embeddings
from anyseek.model.fourm.inference.sampling import generate
from anyseek.model.fourm.modalities import get_modality

SPACES = ("tok_dinov2_global", "tok_imagebind_global")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class CodebookDecoder:
    """Stand-in for a global-space tokenizer decoder: codebook lookup + linear map to 768-d.

    The real memcodes/MLP decoders cost ~1 MFLOP per image, negligible next to the FM; this
    keeps the benchmark free of downloads while still doing the decode step.
    """

    def __init__(self, vocab: int, tokens: int, dim: int, device, dtype) -> None:
        gen = torch.Generator().manual_seed(tokens + vocab)
        self.codes = torch.randn(vocab, 4, generator=gen).to(device, dtype)
        self.out = torch.randn(4 * tokens, dim, generator=gen).to(device, dtype)

    def decode(self, tokens: Tensor) -> Tensor:
        """[B, N] -> [B, dim]."""
        return self.codes[tokens].flatten(1) @ self.out


def flops_per_image(cfg: FourMConfig, n_in: int, n_query: int, vocab: int) -> dict[str, float]:
    """Analytic FLOPs (2 per multiply-add) of one image through the retrieval path."""
    d, h = (
        cfg.dim,
        int(2 * int(cfg.dim * cfg.mlp_ratio) / 3)
        if cfg.gated_mlp
        else int(cfg.dim * cfg.mlp_ratio),
    )
    mlp = (3 if cfg.gated_mlp else 2) * 2 * d * h
    patch = 2 * n_in * 768 * d
    enc_layer = n_in * (2 * 4 * d * d + mlp) + 2 * 2 * n_in * n_in * d
    encoder = patch + cfg.encoder_depth * enc_layer + n_in * 2 * d * d  # + decoder_proj_context
    dec_layer = (
        n_query * (2 * 4 * d * d + 2 * 2 * d * d + mlp)  # self qkv/proj, cross q/proj, mlp
        + n_in * 2 * 2 * d * d  # cross-attention kv of the context
        + 2 * 2 * n_query * n_query * d
        + 2 * 2 * n_query * n_in * d  # scores and mixing
    )
    decoder = cfg.decoder_depth * dec_layer + n_query * 2 * d * vocab
    return {"encoder": encoder, "decoder": decoder, "total": encoder + decoder}


def sync(device: torch.device) -> None:
    """Wait for queued GPU work so timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, iters: int) -> float:
    """Mean seconds per call after one warm-up call."""
    fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - start) / iters


def matmul_peak(device: torch.device, dtype: torch.dtype) -> float:
    """Practical peak: FLOP/s of a large square matmul on this device."""
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    seconds = timed(lambda: a @ a, device, 3)
    return 2 * n**3 / seconds


def main() -> None:
    """Run the benchmark and print the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="fourm21_b")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--baseline-images", type=int, default=1)
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="the device's theoretical peak, for the report",
    )
    args = parser.parse_args()
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    torch.manual_seed(0)

    cfg = FourMConfig.named(args.config)
    with torch.device(device):
        model = FourM(cfg)
    model = model.to(dtype).eval()
    decoders = {s: CodebookDecoder(8192, 16, 768, device, dtype) for s in SPACES}
    images = torch.randn(args.batch, 3, 224, 224, device=device, dtype=dtype)
    n_in = get_modality("rgb@224").num_tokens()
    flops = flops_per_image(cfg, n_in, 16 * len(SPACES), 8192)

    def batched() -> None:
        predict_embeddings(model, {"rgb@224": images}, decoders)

    def single_fast() -> None:
        predict_embeddings(model, {"rgb@224": images[:1]}, decoders)

    def baseline() -> None:
        for i in range(args.baseline_images):
            for space in SPACES:
                out = generate(
                    model,
                    {"rgb@224": images[i : i + 1]},
                    [GenerationTarget(space, steps=16)],
                    seed=0,
                )
                decoders[space].decode(out[space].tensor)

    def notebook(batch: Tensor) -> None:
        """The official retrieval notebook's settings made greedy: one ``generate`` per target,
        ROAR with one decoding step, temperature 0 (each call its own encoder pass)."""
        for space in SPACES:
            out = generate(model, {"rgb@224": batch}, [GenerationTarget(space, steps=1)], seed=0)
            decoders[space].decode(out[space].tensor)

    t_batch = timed(batched, device, args.iters)
    t_notebook = timed(lambda: notebook(images), device, args.iters)
    t_notebook_one = timed(lambda: notebook(images[:1]), device, args.iters)
    t_single = timed(single_fast, device, args.iters)
    t_base = timed(baseline, device, 1) / args.baseline_images
    peak = matmul_peak(device, dtype)
    ips = args.batch / t_batch
    achieved = ips * flops["total"]
    threads = torch.get_num_threads()
    print(f"## {args.config} rgb@224 -> {{{', '.join(SPACES)}}} on {args.device} ({args.dtype})\n")
    print(
        f"- machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{threads} threads"
    )
    print(
        f"- FLOPs per image: encoder {flops['encoder'] / 1e9:.1f} G, decoder "
        f"{flops['decoder'] / 1e9:.1f} G, total {flops['total'] / 1e9:.1f} G"
    )
    print(
        f"- matmul peak measured here: {peak / 1e9:.0f} GFLOP/s"
        + (f"; stated peak {args.peak_tflops} TFLOP/s" if args.peak_tflops else "")
    )
    print("\n| path | batch | s/image | images/s | achieved GFLOP/s | % of matmul peak |")
    print("|---|---|---|---|---|---|")
    for name, batch, sec in (
        ("predict_embeddings (batched)", args.batch, t_batch / args.batch),
        ("predict_embeddings (one image)", 1, t_single),
    ):
        print(
            f"| {name} | {batch} | {sec:.3f} | {1 / sec:.2f} | "
            f"{flops['total'] / sec / 1e9:.1f} | {100 * flops['total'] / sec / peak:.0f}% |"
        )
    for name, batch, sec in (
        (
            "notebook setting: one generate per target, ROAR 1 step, greedy",
            args.batch,
            t_notebook / args.batch,
        ),
        ("notebook setting, one image", 1, t_notebook_one),
    ):
        print(f"| {name} | {batch} | {sec:.3f} | {1 / sec:.2f} | - | - |")
    print(
        f"| baseline: per image, per target, 16-step ROAR | 1 | {t_base:.3f} | "
        f"{1 / t_base:.3f} | - | - |"
    )
    print(
        f"\nSpeed-up of batched predict_embeddings over the notebook setting at the same batch: "
        f"{t_notebook / t_batch:.2f}x (one image: {t_notebook_one / t_single:.2f}x); over the "
        f"16-step baseline: {t_base * ips:.0f}x (one image: {t_base / t_single:.0f}x); achieved "
        f"{achieved / 1e9:.1f} GFLOP/s."
    )


if __name__ == "__main__":
    main()
