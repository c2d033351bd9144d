"""How many distinct scenes the image tower needs before it binds colour to shape.

    PYTHONPATH=. .venv/bin/python lab/binding_data.py --root /work/runs/binding_data \
        --scenes 2500,5000,10000,20000 --steps 1000 --out lab/results/binding_data.md

v7's image vectors read a scene as a bag of attributes (``object_binding.md``), and neither
contrastive levers nor an auxiliary head changed that. This asks the image tower the question
directly, with nothing else in the way: the built-in model's image stem and trunk (the shipped
config) and a linear head are trained on each scene's object conjunctions
(``anyseek.workbench.attributes``: every (shape, colour), (shape, colour, size), (shape, colour,
material) and whole object its visible objects have; a sigmoid each), on the first ``n``
training scenes, for the same steps whatever ``n`` is. Then every conjunction that at least 10
held-out scenes have ranks the held-out gallery by its logit: P@10 of the (shape, colour) pairs
("a red cube") and of whole objects ("a small red metal cube"), on held-out scenes and, for
comparison, on 1,000 of the training scenes. ``--flip`` adds rows where the training images
are mirrored at random (a conjunction does not care which side an object is on).

Training scenes are the recipe's (base seed 0, so every ``n`` is a prefix of the largest) and
the held-out ones the validation gallery's (seed 777001), rendered once under ``--root``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.model.builtin.network import BuiltinConfig, Stem, Trunk
from anyseek.model.fourm.imagenet import normalize_images
from anyseek.workbench.attributes import CONJUNCTIONS, _offsets, conjunction_labels
from anyseek.workbench.cache import build_cache
from anyseek.workbench.presence import encode_scenes

PAIR, WHOLE = CONJUNCTIONS.index(("shape", "color")), len(CONJUNCTIONS) - 1
MIN_POSITIVES = 10  # a conjunction is asked for only where P@10 can reach 1


@dataclass(frozen=True)
class Scenes:
    """Images [N, 3, S, S] uint8 and their conjunction labels [N, L]."""

    rgb: torch.Tensor
    labels: torch.Tensor

    def first(self, n: int) -> Scenes:
        """The first ``n`` scenes."""
        return Scenes(self.rgb[:n], self.labels[:n])


def rendered(folder: Path, n: int, seed: int) -> Scenes:
    """``n`` scenes of base ``seed`` (no people's drawings), rendered once into ``folder``."""
    data = build_cache(folder, n=n, seed=seed, size=64, styles=())
    return Scenes(data.scenes.rgb, conjunction_labels(encode_scenes(data.scenes.scenes)))


class Tower(nn.Module):
    """The built-in model's image tower with a linear conjunction head."""

    def __init__(self, config: BuiltinConfig, labels: int) -> None:
        super().__init__()
        self.stem, self.trunk = Stem(3, config.widths[0], config.groups), Trunk(config)
        self.head = nn.Linear(config.embed_dim, labels)
        nn.init.constant_(self.head.bias, math.log(0.05 / 0.95))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """uint8 images [B, 3, S, S] -> conjunction logits [B, L] (float32)."""
        with torch.autocast("cpu", torch.bfloat16):
            return self.head(self.trunk(self.stem(normalize_images(rgb))).float()).float()


def precision_at_10(tower: Tower, scenes: Scenes, block: int) -> float:
    """Mean P@10 over the block's conjunctions that >= MIN_POSITIVES scenes have."""
    tower.eval()
    with torch.no_grad():
        logits = torch.cat([tower(scenes.rgb[i : i + 250]) for i in range(0, len(scenes.rgb), 250)])
    tower.train()
    offsets = _offsets()
    columns = [
        c
        for c in range(offsets[block], offsets[block + 1])
        if scenes.labels[:, c].sum() >= MIN_POSITIVES
    ]
    hits = [scenes.labels[logits[:, c].topk(10).indices, c].mean() for c in columns]
    return float(torch.stack(hits).mean())


def train_tower(
    config: BuiltinConfig, train: Scenes, steps: int, flip: bool, seed: int = 0
) -> tuple[Tower, float]:
    """The tower after ``steps`` steps of 256 (AdamW, warm-up then cosine); and seconds."""
    torch.manual_seed(seed)
    tower = Tower(config, train.labels.shape[1])
    optimizer = torch.optim.AdamW(tower.parameters(), lr=2e-3, weight_decay=0.05)
    began = time.monotonic()
    for step in range(steps):
        for group in optimizer.param_groups:
            warm = min(1.0, (step + 1) / 50)
            group["lr"] = 2e-3 * warm * 0.5 * (1 + math.cos(math.pi * step / steps))
        index = torch.randint(len(train.rgb), (256,))
        rgb = train.rgb[index]
        if flip:
            mirrored = torch.rand(len(rgb)) < 0.5
            rgb = torch.where(mirrored[:, None, None, None], rgb.flip(-1), rgb)
        loss = F.binary_cross_entropy_with_logits(tower(rgb), train.labels[index], reduction="sum")
        optimizer.zero_grad(set_to_none=True)
        (loss / len(rgb)).backward()
        optimizer.step()
    return tower, time.monotonic() - began


def main() -> None:
    """Train one tower per scene count (and per flip setting), then write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="where the scenes are rendered")
    parser.add_argument("--scenes", default="2500,5000,10000,20000")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--flip", action="store_true", help="also each count with mirrored rows")
    parser.add_argument("--model", default="max_pool", help="a model/builtin/configs variant")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    counts = sorted(int(n) for n in args.scenes.split(","))
    torch.set_num_threads(2)
    config = BuiltinConfig.load(Path(args.model))
    began = time.monotonic()
    train = rendered(args.root / "train", counts[-1], seed=0)
    held_out = rendered(args.root / "val", 1000, seed=777_001)
    render_s = time.monotonic() - began
    rows = []
    for n in counts:
        for flip in (False, True) if args.flip else (False,):
            tower, seconds = train_tower(config, train.first(n), args.steps, flip)
            seen = train.first(min(n, 1000))
            rows.append(
                f"| {n:,} | {'yes' if flip else 'no'} | {args.steps * 256 / n:.0f} | "
                f"{precision_at_10(tower, held_out, PAIR):.3f} | "
                f"{precision_at_10(tower, held_out, WHOLE):.3f} | "
                f"{precision_at_10(tower, seen, PAIR):.3f} | "
                f"{precision_at_10(tower, seen, WHOLE):.3f} | {seconds / 60:.1f} |"
            )
            print(rows[-1], flush=True)
    command = "PYTHONPATH=. .venv/bin/python lab/binding_data.py " + " ".join(sys.argv[1:])
    text = "\n".join(
        [
            "# How many distinct scenes the image tower needs to bind colour to shape",
            "",
            f"Command: `{command}`",
            "",
            f"The `{args.model}` image tower and a linear head trained on conjunction labels "
            f"alone, {args.steps:,} steps of 256 for every count; P@10 over every conjunction "
            f"that {MIN_POSITIVES} or more scenes of the gallery have. Rendering took "
            f"{render_s / 60:.1f} min.",
            "",
            "| training scenes | mirrored rows | times each scene is seen | held-out pair P@10 "
            "| held-out whole object P@10 | training pair P@10 | training whole object P@10 "
            "| training min |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
