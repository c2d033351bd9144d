"""How far can a query encoder reach into a fixed teacher space? (the FM's best case)

Trains a conv encoder for one query modality (sketch, depth, ...) with InfoNCE straight into a
trained run's teacher embeddings of the training images (centred and normalised, as the
tokenizers see them), then finds each held-out gallery scene's image by the teacher's own
embedding of it. The FM predicts that space through 16 tokens, so this direct encoder bounds what
it can reach from the modality; a two-tower specialist (``bench/specialist_baseline.py``), free to
shape the rgb side, shows what the modality allows. Usage::

    PYTHONPATH=. python bench/teacher_reach.py --run runs/abl --query sketch --steps 1000
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from model.data.tensors import SceneTensors
from model.eval.retrieval import ranking_metrics
from model.train.global_tokenizers import center_normalize
from model.train.pipeline import DINO_SPACE, Run, _dino_embeddings
from model.train.recipe import load_recipe
from model.train.schedule import cosine_lr, index_batches
from model.train.specialist import QUERY_CHANNELS, Tower, embed, encoder_input


def gallery_teacher(run: Run, gallery: SceneTensors, mean: torch.Tensor) -> torch.Tensor:
    """The run's dino teacher embeddings of the gallery images (centred, unit length)."""
    return center_normalize(_dino_embeddings(run, gallery), mean)


def main() -> None:
    """Train the query encoder into the fixed space and print its gallery metrics as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished teachers stage")
    parser.add_argument("--recipe", default=None, help="the run's recipe (default: config.json)")
    parser.add_argument("--query", default="sketch", choices=sorted(QUERY_CHANNELS))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = args.recipe or str(args.run / "config.json")
    run = Run(load_recipe(recipe), args.run)
    train = SceneTensors.load(args.run / "tensors" / "train.pt")
    gallery = SceneTensors.load(args.run / "tensors" / "gallery.pt")
    raw = torch.load(args.run / "teachers" / "embeddings.pt")[DINO_SPACE]
    mean = raw.float().mean(0)
    anchors = center_normalize(raw, mean)  # [N, C]
    targets = gallery_teacher(run, gallery, mean)  # [G, C]

    torch.manual_seed(0)
    tower = Tower(QUERY_CHANNELS[args.query], (16, 32, 64, 128), anchors.shape[1])
    log_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    optimizer = torch.optim.AdamW([*tower.parameters(), log_scale], lr=2e-3, weight_decay=0.05)
    generator = torch.Generator().manual_seed(0)
    t0 = time.monotonic()
    tower.train()
    for step, index in index_batches(len(train), args.batch, args.steps, generator):
        cosine_lr(optimizer, step, args.steps, 2e-3)
        logits = (
            log_scale.exp() * tower(encoder_input(train, index, args.query)) @ anchors[index].t()
        )
        labels = torch.arange(len(index))
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            log_scale.clamp_(0, math.log(100))
    queries = embed(tower, gallery, args.query)
    result = {
        "run": str(args.run),
        "query": args.query,
        "space": DINO_SPACE,
        "steps": args.steps,
        "batch": args.batch,
        "final_loss": loss.item(),
        "seconds": round(time.monotonic() - t0, 1),
        **ranking_metrics(queries @ targets.t()),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
