"""Throughput of the input transforms and of official-size tokenizers (random weights).

Run from the repository root::

    PYTHONPATH=. python bench/bench_tokenizers.py [--threads 2] [--device cpu]

Tokenizers are built at the released architectures' sizes (ViT-B encoders, BottleneckMLP
B_6-Wi_1024) with random weights: speed does not depend on the weights. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import platform
import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw

from anyseek.model.fourm.tokenizers.vqvae import TokenizerConfig, VQTokenizer
from anyseek.model.transforms import TRANSFORMS
from anyseek.model.transforms.semseg import colorize

SIZES = {  # released tokenizers: encoder/decoder types and codebooks (DiVAE decoders not built)
    "depth (DiVAE, ViT-B enc)": dict(
        enc_type="vit_b_enc",
        dec_type="unet_patched",
        n_channels=1,
        post_mlp=True,
        codebook_size=8192,
        latent_dim=32,
    ),
    "semseg (ViT-B enc + dec)": dict(
        enc_type="vit_b_enc",
        dec_type="vit_b_dec",
        n_channels=64,
        n_labels=134,
        post_mlp=True,
        codebook_size=4096,
        latent_dim=32,
    ),
    "DINOv2 global (BMLP 6x1024)": dict(
        enc_type="BottleneckMLP/B_6-Wi_1024",
        dec_type="BottleneckMLP/B_6-Wi_1024",
        n_channels=768,
        patch_proj=False,
        quant_type="memcodes",
        codebook_size=8192,
        num_codebooks=16,
        latent_dim=1024,
    ),
}


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def sample_files() -> dict[str, bytes]:
    """Typical user uploads: a 640x480 16-bit depth PNG, a painted 640x480 segmentation, a
    1024x768 sketch and a 1280x960 photo."""
    rng = np.random.default_rng(0)

    def png(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    depth = (rng.uniform(500, 8000, (480, 640))).astype(np.uint16)
    classes = np.repeat(np.repeat(rng.integers(0, 134, (12, 16)), 40, 0), 40, 1)
    sketch = Image.new("L", (1024, 768), 255)
    pen = ImageDraw.Draw(sketch)
    for _ in range(20):
        pen.line(tuple(rng.integers(0, 768, 4).tolist()), fill=0, width=6)
    photo = Image.fromarray(rng.integers(0, 255, (960, 1280, 3), dtype=np.uint8))
    return {
        "depth": png(Image.fromarray(depth)),
        "semseg": png(colorize(classes)),
        "sketch": png(sketch),
        "rgb": png(photo),
    }


def main() -> None:
    """Measure and print one Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    rows = [
        f"device {args.device}, {args.threads} threads, torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}",
        "",
        "| step | input | ms (median) |",
        "|---|---|---:|",
    ]
    for kind, data in sample_files().items():
        ms = timed(lambda k=kind, d=data: TRANSFORMS[k](d), args.repeats)
        rows.append(f"| transform `{kind}` | PNG upload | {ms:.1f} |")
    ms = timed(
        lambda: TRANSFORMS["caption"]("a red double decker bus parked next to a building"),
        args.repeats,
    )
    rows.append(f"| transform `caption` | 10 words | {ms:.2f} |")

    with torch.inference_mode():
        for name, cfg in SIZES.items():
            tok = VQTokenizer(TokenizerConfig.from_dict(cfg)).to(device).eval()
            for batch in (1, 8):
                if tok.input_kind.value == "global":
                    x = torch.randn(batch, 768, device=device)
                elif tok.input_kind.value == "labels":
                    x = torch.randint(0, 134, (batch, 224, 224), device=device)
                else:
                    x = torch.randn(batch, 1, 224, 224, device=device)
                ms = timed(lambda t=tok, x=x: t.encode(x), args.repeats)
                rows.append(f"| encode {name} | batch {batch} | {ms:.1f} |")
                if tok.has_decoder:
                    tokens = tok.encode(x)
                    ms = timed(lambda t=tok, k=tokens: t.decode(k), args.repeats)
                    rows.append(f"| decode {name} | batch {batch} | {ms:.1f} |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
