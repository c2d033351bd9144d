"""A bound visual teacher: one rgb encoder trained jointly with an encoder per query modality.

The SimCLR teacher of the ``dino`` space learns from rgb alone, so its space keeps whatever tells
rgb images apart, much of which a sketch or a depth map cannot show: even an encoder trained
directly into that fixed space finds a sketch's scene at held-out R@1 0.33 (`bench/results/
alignment.md`), while a two-tower sketch <-> rgb model reaches 0.99. Binding the rgb encoder to
the other modalities while it learns (ImageBind's recipe, whose global embedding 4M-21 predicts)
makes a space every query modality can reach; the FM then predicts that space's tokens.

Each step draws one query modality (round robin) and pulls its encoder and the rgb encoder
together with a symmetric InfoNCE loss over the batch; the rgb tower is the teacher.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from model.data.tensors import SceneTensors
from model.train.schedule import cosine_lr, index_batches
from model.train.specialist import QUERY_CHANNELS, Tower, embed, encoder_input, info_nce
from model.train.teachers import Progress


@dataclass(frozen=True)
class BoundTeacherConfig:
    """Modalities bound to rgb (empty: the ``dino`` space keeps the SimCLR teacher), tower size
    and schedule."""

    modalities: tuple[str, ...] = ()
    widths: tuple[int, ...] = (16, 32, 64, 128)
    embed_dim: int = 128
    temperature: float = 0.07  # initial value; learned, capped as CLIP caps it
    steps: int = 1500
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05


class BoundTeacher(nn.Module):
    """The rgb tower (the teacher) and one tower per bound modality."""

    def __init__(self, config: BoundTeacherConfig) -> None:
        super().__init__()
        unknown = [m for m in config.modalities if m not in QUERY_CHANNELS]
        if not config.modalities or unknown:
            raise ValueError(
                f"bound modalities must be a non-empty subset of {sorted(QUERY_CHANNELS)}, "
                f"got {list(config.modalities)}"
            )
        self.config = config
        self.rgb = Tower(3, config.widths, config.embed_dim)
        self.towers = nn.ModuleDict(
            {
                m: Tower(QUERY_CHANNELS[m], config.widths, config.embed_dim)
                for m in config.modalities
            }
        )
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / config.temperature)))


def train_bound_teacher(
    scenes: SceneTensors,
    config: BoundTeacherConfig,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    device: str = "cpu",
) -> BoundTeacher:
    """Train the towers on aligned (modality, rgb) pairs; returns the teacher in eval mode (CPU)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = BoundTeacher(config).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    model.train()
    for step, index in index_batches(len(scenes), config.batch_size, config.steps, generator):
        cosine_lr(optimizer, step, config.steps, config.lr)
        modality = config.modalities[step % len(config.modalities)]
        query = encoder_input(scenes, index, modality).to(device)  # [B, C, S, S]
        rgb = encoder_input(scenes, index, "rgb").to(device)  # [B, 3, S, S]
        loss = info_nce(model.towers[modality](query), model.rgb(rgb), model.log_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.log_scale.clamp_(0, math.log(100))
        if progress is not None:
            progress(step, loss.item())
    return model.cpu().eval()


def bound_embeddings(model: BoundTeacher, scenes: SceneTensors) -> torch.Tensor:
    """The ``dino`` space of a bound teacher: unit rgb-tower embeddings ``[N, D]`` (CPU)."""
    return embed(model.rgb.cpu(), scenes, "rgb")
