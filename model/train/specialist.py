"""A specialist baseline for one query modality: a two-tower contrastive model (issue #17).

Where the any-to-any model learns every modality at once through token prediction, a specialist
learns one pair only: a small convolutional encoder for the query modality (sketch, edges,
depth, normals or segmentation, fed exactly as the FM receives them, see
``model.data.tensors.PIXEL_INPUTS``) and another for rgb, trained so that a scene's query and
its image match each other among the batch (symmetric InfoNCE, CLIP's loss). Its retrieval
numbers on the held-out gallery are the bar the any-to-any model should reach on that pair.
Both towers mirror the visual teacher's encoder (``model.train.teachers.ConvEncoder``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from model.data.scene import SHAPES
from model.data.tensors import SceneTensors, pixel_inputs
from model.eval.retrieval import Metrics, ranking_metrics
from model.train.schedule import cosine_lr, index_batches
from model.train.teachers import ConvEncoder, Progress

SEMSEG_CLASSES = 2 + len(SHAPES)  # background wall, floor, then one class per shape
#: query modality -> channels of its encoder input (semseg ids become one-hot planes)
QUERY_CHANNELS: dict[str, int] = {
    "sketch": 1,
    "edges": 1,
    "depth": 1,
    "normal": 3,
    "semseg": SEMSEG_CLASSES,
}


@dataclass(frozen=True)
class SpecialistConfig:
    """Query modality, tower size and schedule of one specialist."""

    query: str = "sketch"
    size: int = 64
    widths: tuple[int, ...] = (16, 32, 64, 128)  # the teacher's (32, ...) is 4x slower on CPU
    embed_dim: int = 128
    temperature: float = 0.07  # initial value when learned
    learn_temperature: bool = True
    steps: int = 1500
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05


def encoder_input(
    scenes: SceneTensors, index: torch.Tensor, modality: str, size: int = 64
) -> torch.Tensor:
    """Float encoder input ``[B, C, S, S]`` of ``modality`` for the scenes at ``index``."""
    name = f"{modality}@{size}"
    x = pixel_inputs(scenes, index, [name])[name]
    if modality == "semseg":
        return F.one_hot(x, SEMSEG_CLASSES).permute(0, 3, 1, 2).float()
    return x.float()


class Tower(nn.Module):
    """A convolutional encoder and a linear projection into the shared embedding space."""

    def __init__(self, in_channels: int, widths: tuple[int, ...], embed_dim: int) -> None:
        super().__init__()
        self.encoder = ConvEncoder(widths, in_channels)
        self.projection = nn.Linear(self.encoder.out_dim, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> unit-length embeddings [B, embed_dim]."""
        return F.normalize(self.projection(self.encoder(x)), dim=-1)


class Specialist(nn.Module):
    """Two towers, query and rgb, and the (log) logit scale of their contrastive loss."""

    def __init__(self, config: SpecialistConfig) -> None:
        super().__init__()
        if config.query not in QUERY_CHANNELS:
            raise ValueError(f"no specialist for {config.query!r}; choose from {QUERY_CHANNELS}")
        self.config = config
        self.query = Tower(QUERY_CHANNELS[config.query], config.widths, config.embed_dim)
        self.rgb = Tower(3, config.widths, config.embed_dim)
        scale = torch.tensor(math.log(1 / config.temperature))
        self.log_scale = nn.Parameter(scale, requires_grad=config.learn_temperature)


def info_nce(query: torch.Tensor, rgb: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE of unit embeddings ``[B, D]``: row i of each matches row i of the other."""
    logits = log_scale.exp() * query @ rgb.t()
    labels = torch.arange(len(query), device=query.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


@dataclass
class SpecialistRun:
    """A trained specialist (eval mode, CPU) and its per-step training losses."""

    model: Specialist
    losses: list[float] = field(default_factory=list)


def train_specialist(
    scenes: SceneTensors,
    config: SpecialistConfig,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    device: str = "cpu",
) -> SpecialistRun:
    """Train a specialist on aligned (query, rgb) pairs of ``scenes`` with AdamW and a cosine
    schedule; the batch order and the initial weights follow ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = Specialist(config).to(device)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )
    losses: list[float] = []
    model.train()
    for step, index in index_batches(len(scenes), config.batch_size, config.steps, generator):
        cosine_lr(optimizer, step, config.steps, config.lr)
        query = encoder_input(scenes, index, config.query, config.size).to(device)
        rgb = encoder_input(scenes, index, "rgb", config.size).to(device)
        loss = info_nce(model.query(query), model.rgb(rgb), model.log_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.log_scale.clamp_(0, math.log(100))  # as CLIP caps its logit scale
        losses.append(loss.item())
        if progress is not None:
            progress(step, losses[-1])
    return SpecialistRun(model.cpu().eval(), losses)


@torch.no_grad()
def embed(
    tower: Tower, scenes: SceneTensors, modality: str, size: int = 64, batch_size: int = 256
) -> torch.Tensor:
    """Unit embeddings ``[N, D]`` of every scene's ``modality`` through ``tower`` (eval mode)."""
    tower.eval()
    parts = []
    for start in range(0, len(scenes), batch_size):
        index = torch.arange(start, min(len(scenes), start + batch_size))
        parts.append(tower(encoder_input(scenes, index, modality, size)))
    return torch.cat(parts)


def evaluate_specialist(model: Specialist, gallery: SceneTensors) -> Metrics:
    """R@1/5/10 and MRR of each gallery scene's query finding its own rgb among all the
    gallery's images (the protocol of ``model.eval.retrieval``)."""
    config = model.config
    queries = embed(model.query, gallery, config.query, config.size)
    images = embed(model.rgb, gallery, "rgb", config.size)
    return ranking_metrics(queries @ images.t())
