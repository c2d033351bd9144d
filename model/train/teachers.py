"""The two teachers whose global image embeddings the built-in model learns to predict.

4M-21 distils DINOv2-global and ImageBind-global; the built-in model makes its own pair:

* ``clip``: a small CLIP (open-clip-torch, custom ViT/text-transformer config, its contrastive
  loss) trained on (rgb, caption) pairs with our WordPiece ids; its image embedding is semantic
  and aligned with text, so captions find images by their facts.
* ``dino``: a small convolutional encoder trained self-supervised on rgb alone (SimCLR: two mild,
  layout-preserving augmentations of one image must match each other among the batch); its pooled
  feature captures layout and appearance, which is what sketch/depth/segmentation queries share
  with the image.

Images are uint8 ``[N, 3, H, W]``; embeddings are float ``[N, D]`` (not normalised).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from model.fourm.imagenet import normalize_images
from model.train.schedule import autocast, cosine_lr, index_batches

Progress = Callable[[int, float], None]  # (step, loss) -> None


# ----------------------------------------------------------------------------- CLIP teacher


def fit_length(ids: torch.Tensor, length: int, eos_id: int = 3) -> torch.Tensor:
    """Right-pad caption ids ``[..., L]`` with ``[PAD]`` or cut them, keeping a final ``[EOS]``."""
    if ids.shape[-1] >= length:
        cut = ids[..., :length].clone()
        lost = (ids[..., length:] != 0).any(-1)
        cut[..., -1] = torch.where(lost, torch.full_like(cut[..., -1], eos_id), cut[..., -1])
        return cut
    return F.pad(ids, (0, length - ids.shape[-1]))


@dataclass(frozen=True)
class ClipTeacherConfig:
    """Size and schedule of the small CLIP teacher."""

    image_size: int = 64
    patch_size: int = 8
    embed_dim: int = 128
    vision_width: int = 128
    vision_layers: int = 4
    text_width: int = 128
    text_layers: int = 3
    context_length: int = 48
    steps: int = 1500
    batch_size: int = 128
    lr: float = 1e-3


def build_clip(config: ClipTeacherConfig, vocab_size: int, pad_id: int = 0, eos_id: int = 3):
    """An open_clip ``CLIP`` from a custom small config reading our WordPiece ids."""
    from open_clip.model import CLIP

    vision = {
        "image_size": config.image_size,
        "patch_size": config.patch_size,
        "width": config.vision_width,
        "layers": config.vision_layers,
        "head_width": 32,
    }
    text = {
        "context_length": config.context_length,
        "vocab_size": vocab_size,
        "width": config.text_width,
        "heads": config.text_width // 32,
        "layers": config.text_layers,
        "pad_id": pad_id,
        "eos_id": eos_id,
        "pool_type": "eos",
    }
    return CLIP(embed_dim=config.embed_dim, vision_cfg=vision, text_cfg=text)


def train_clip_teacher(
    images: torch.Tensor,
    caption_ids: torch.Tensor,
    config: ClipTeacherConfig,
    vocab_size: int,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    device: str = "cpu",
) -> nn.Module:
    """Train the CLIP teacher on aligned pairs; returns it in eval mode on the CPU.

    images: uint8 [N,3,H,W]; caption_ids: int64 [N, K, L] -- K phrasings per image (ids, [EOS],
    [PAD]); each step picks one phrasing per image at random.
    """
    from open_clip.loss import ClipLoss

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_clip(config, vocab_size).to(device)
    images, caption_ids = images.to(device), caption_ids.to(device)
    loss_fn = ClipLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.05)
    model.train()
    batch_size = min(config.batch_size, len(images))
    for step, index in index_batches(len(images), batch_size, config.steps, generator):
        cosine_lr(optimizer, step, config.steps, config.lr)
        pick = torch.randint(caption_ids.shape[1], (len(index),), generator=generator)
        index, pick = index.to(device), pick.to(device)
        text = fit_length(caption_ids[index, pick], config.context_length)
        with autocast(device):
            out = model(normalize_images(images[index]), text)
        image_features, text_features, logit_scale = (t.float() for t in out[:3])
        loss = loss_fn(image_features, text_features, logit_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, 4.6052)  # ln(100), as open_clip's training loop does
        if progress is not None:
            progress(step, loss.item())
    return model.cpu().eval()


def _device_of(model: nn.Module) -> torch.device:
    """The device a model's parameters live on."""
    return next(model.parameters()).device


@torch.no_grad()
def clip_image_embeddings(
    model: nn.Module, images: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """CLIP image embeddings ``[N, D]`` (float32, CPU) of uint8 images, on the model's device."""
    model.eval()
    device = _device_of(model)
    parts = [
        model.encode_image(normalize_images(images[i : i + batch_size].to(device))).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(parts)


@torch.no_grad()
def clip_text_embeddings(
    model: nn.Module, caption_ids: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """CLIP text embeddings ``[N, D]`` (float32, CPU) of caption ids ``[N, L]``."""
    model.eval()
    device = _device_of(model)
    ids = fit_length(caption_ids, int(model.context_length))
    parts = [
        model.encode_text(ids[i : i + batch_size].to(device)).float().cpu()
        for i in range(0, len(caption_ids), batch_size)
    ]
    return torch.cat(parts)


# ----------------------------------------------------------------------------- DINO-space teacher


@dataclass(frozen=True)
class VisualTeacherConfig:
    """Size, augmentation strength and schedule of the self-supervised visual teacher."""

    widths: tuple[int, ...] = (32, 64, 128, 192)
    projection_dim: int = 128
    temperature: float = 0.1
    max_shift: float = 0.08  # fraction of the image; small so the layout stays meaningful
    scale_range: tuple[float, float] = (0.85, 1.1)
    color_jitter: float = 0.15
    grayscale_p: float = 0.5  # strong colour distortion: the teacher must see shapes and layout
    channel_shuffle: bool = True
    edge_view_p: float = 0.5  # a view becomes the image's edge-strength map (geometry only)
    steps: int = 1500
    batch_size: int = 128
    lr: float = 2e-3


class ConvEncoder(nn.Module):
    """A small ResNet-like image encoder: strided conv stages, then global average pooling."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 192), in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = in_channels
        for width in widths:
            layers += [
                nn.Conv2d(in_ch, width, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.GELU(),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.GELU(),
            ]
            in_ch = width
        self.features = nn.Sequential(*layers)
        self.out_dim = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_channels, H, W] inputs -> [B, C] pooled features."""
        return self.features(x).mean((2, 3))


class VisualTeacher(nn.Module):
    """SimCLR model: the encoder whose pooled feature is the ``dino`` target, plus its head."""

    def __init__(self, config: VisualTeacherConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ConvEncoder(config.widths)
        dim = self.encoder.out_dim
        self.head = nn.Sequential(
            nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, config.projection_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] -> projected features [B, projection_dim] for the contrastive loss."""
        return self.head(self.encoder(x))


def augment(
    images: torch.Tensor, config: VisualTeacherConfig, generator: torch.Generator
) -> torch.Tensor:
    """Per-sample views of normalised images ``[B,3,H,W]``: mild geometry, strong colour.

    Geometry changes little (small shift and zoom, no flips), so layout stays meaningful; colour
    changes a lot (channel shuffles, greyscale, gain and bias), so colour alone cannot tell two
    views of one scene from other scenes and the embedding has to encode shapes and layout, which
    sketches, depth and segmentations share with the image. With ``edge_view_p`` a view is
    replaced by the Sobel edge strength of the image (still computed from rgb alone): matching an
    image to its own edge map ties the embedding to the scene's contours.
    """
    b, device = images.shape[0], images.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=generator.device).to(device)

    low, high = config.scale_range
    scale = low + (high - low) * rand(b)
    shift = (rand(b, 2) * 2 - 1) * config.max_shift * 2
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0] = 1 / scale
    theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    if config.channel_shuffle:
        order = rand(b, 3).argsort(1)
        out = torch.gather(out, 1, order[:, :, None, None].expand_as(out))
    grey = rand(b, 1, 1, 1) < config.grayscale_p
    out = torch.where(grey, out.mean(1, keepdim=True).expand_as(out), out)
    jitter = config.color_jitter
    gain = 1 + (rand(b, 1, 1, 1) * 2 - 1) * jitter
    bias = (rand(b, 3, 1, 1) * 2 - 1) * jitter
    out = out * gain + bias
    edges = rand(b, 1, 1, 1) < config.edge_view_p
    out = torch.where(edges, edge_strength(out).expand_as(out), out)
    noise = torch.randn(out.shape, generator=generator, device=generator.device)
    return out + 0.05 * noise.to(device)


def edge_strength(images: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the luminance, standardised per image: ``[B, 1, H, W]``."""
    grey = images.mean(1, keepdim=True)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=images.device)
    kx = kx.view(1, 1, 3, 3)
    gx = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kx)
    gy = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kx.transpose(2, 3))
    magnitude = torch.sqrt(gx**2 + gy**2 + 1e-6)
    mean = magnitude.mean((2, 3), keepdim=True)
    std = magnitude.std((2, 3), keepdim=True) + 1e-6
    return (magnitude - mean) / std


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy over 2B views."""
    z = F.normalize(torch.cat([a, b]).float(), dim=-1)
    sim = z @ z.t() / temperature
    n = a.shape[0]
    sim.fill_diagonal_(float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(sim.device)
    return F.cross_entropy(sim, labels)


def train_visual_teacher(
    images: torch.Tensor,
    config: VisualTeacherConfig,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    device: str = "cpu",
) -> VisualTeacher:
    """Train the self-supervised visual teacher on uint8 images ``[N,3,H,W]``; returns it on the
    CPU in eval mode. Augmentations are drawn on ``device`` (a generator there, seeded)."""
    generator = torch.Generator().manual_seed(seed)
    views = torch.Generator(device=device).manual_seed(seed)
    torch.manual_seed(seed)
    model = VisualTeacher(config).to(device)
    images = images.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.05)
    model.train()
    batch_size = min(config.batch_size, len(images))
    for step, index in index_batches(len(images), batch_size, config.steps, generator):
        cosine_lr(optimizer, step, config.steps, config.lr)
        x = normalize_images(images[index.to(device)])
        with autocast(device):
            a, b = model(augment(x, config, views)), model(augment(x, config, views))
        loss = nt_xent(a, b, config.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if progress is not None:
            progress(step, loss.item())
    return model.cpu().eval()


@torch.no_grad()
def visual_embeddings(
    model: VisualTeacher, images: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """Pooled encoder features ``[N, C]`` (float32, CPU) of uint8 images: the ``dino`` space."""
    model.eval()
    device = _device_of(model)
    parts = [
        model.encoder(normalize_images(images[i : i + batch_size].to(device))).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(parts)
