"""Benchmark the built-in model: bundle load time and embedding throughput on this machine.

PYTHONPATH=. python bench/builtin.py [--model builtin] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    """Print load time (fresh process each time is not needed: nothing is cached) and images/s."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    from model.bundle.loading import load_bundle

    loads = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        bundle = load_bundle(args.model)
        loads.append(time.perf_counter() - t0)
    rgb = bundle.modality("rgb")
    size = int(rgb.split("@")[1])
    images = torch.randn(args.batch, 3, size, size)
    bundle.embed({rgb: images})  # warm-up
    t0 = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        bundle.embed({rgb: images})
    rate = rounds * args.batch / (time.perf_counter() - t0)
    print(f"threads: {torch.get_num_threads()}")
    print(
        f"load_bundle({args.model!r}): median {statistics.median(loads):.3f} s, "
        f"max {max(loads):.3f} s over {args.repeats} loads"
    )
    print(f"rgb -> both global embeddings: {rate:.0f} images/s (batch {args.batch}, CPU float32)")


if __name__ == "__main__":
    main()
