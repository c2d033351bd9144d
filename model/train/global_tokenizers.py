"""Train MLP VQ-VAEs of the official global-embedding tokenizer family on teacher embeddings.

Same family as ``4M_tokenizers_DINOv2-B14-global_8k_16_224``: a ``BottleneckMLP`` encoder, a 1x1
``quant_proj``, a multi-head "memcodes" quantiser whose heads give the 16 tokens of ONE latent
vector, ``post_quant_proj`` and a ``BottleneckMLP`` decoder. The module below uses the official
state-dict key names and config keys, so the saved file is read by the same loader as the official
tokenizers (``load_vq_tokenizer``). Training passes the argmax code forward and the gradient of a
softmax over each head's code scores backward (straight-through); inference takes the argmax.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from model.train.schedule import cosine_lr

Progress = Callable[[int, float], None]


@dataclass(frozen=True)
class GlobalTokenizerConfig:
    """Size and schedule of one global-embedding tokenizer."""

    blocks: int = 2
    width: int = 128
    latent_dim: int = 64
    num_codebooks: int = 16  # = tokens per embedding
    codebook_size: int = 8192  # = the space's vocabulary in the modality registry
    live_codes: int | None = 256  # distinct codes per head; the rest start as exact copies
    steps: int = 3000
    batch_size: int = 256
    lr: float = 2e-3
    temperature: float = 1.0
    usage_weight: float = 0.5  # pushes code usage per head towards uniform (balanced classes)
    usage_temperature: float = 0.05

    @property
    def model_type(self) -> str:
        """The official BottleneckMLP model id, e.g. ``BottleneckMLP/B_2-Wi_128``."""
        return f"BottleneckMLP/B_{self.blocks}-Wi_{self.width}"


class BottleneckMLP(nn.Module):
    """``linear_in``, pre-norm residual MLP blocks (expansion 4, exact GELU), ``linear_out``."""

    def __init__(self, dim_in: int, width: int, dim_out: int, blocks: int) -> None:
        super().__init__()
        self.linear_in = nn.Linear(dim_in, width)
        self.layernorms = nn.ModuleList(nn.LayerNorm(width) for _ in range(blocks))
        self.blocks = nn.ModuleList(_MLPBlock(width) for _ in range(blocks))
        self.linear_out = nn.Linear(width, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, dim_in] -> [N, dim_out]."""
        x = self.linear_in(x)
        for norm, block in zip(self.layernorms, self.blocks, strict=True):
            x = x + block(norm(x))
        return self.linear_out(x)


class _MLPBlock(nn.Module):
    """One residual MLP block; ``block.0`` / ``block.2`` key names follow the official module."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, width] -> [N, width]."""
        return self.block(x)


class _HeadMix(nn.Module):
    """Per-head ``d x d`` matrices, stored as ``weight [heads, d_in, d_out]`` like einops EinMix."""

    def __init__(self, heads: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(heads, dim, dim) / dim**0.5)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [heads, K, d] -> [heads, K, d]."""
        return torch.einsum("hkd,hde->hke", codes, self.weight)


class Memcodes(nn.Module):
    """Multi-head memcodes quantiser: head ``h`` of the latent picks one of ``K`` codes."""

    def __init__(self, latent_dim: int, heads: int, codebook_size: int, temperature: float) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, latent_dim // heads
        self.temperature = temperature
        self.codes = nn.Parameter(torch.randn(heads, codebook_size, self.head_dim))
        self.live: int | None = None  # while training: only the first ``live`` codes compete
        self.to_k = _HeadMix(heads, self.head_dim)
        self.to_v = _HeadMix(heads, self.head_dim)

    def scores(self, latent: torch.Tensor) -> torch.Tensor:
        """[N, latent_dim] -> code scores [N, heads, K]."""
        q = latent.view(len(latent), self.heads, self.head_dim) * self.head_dim**-0.5
        codes = self.codes if self.live is None else self.codes[:, : self.live]
        return torch.einsum("nhd,hkd->nhk", q, self.to_k(codes))

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[N, latent_dim] -> (quantised latent [N, latent_dim], tokens [N, heads])."""
        logits = self.scores(latent)  # [N, heads, K]
        tokens = logits.argmax(-1)
        codes = self.codes if self.live is None else self.codes[:, : self.live]
        values = self.to_v(codes)  # [heads, K, d]
        hard = values[torch.arange(self.heads)[None, :], tokens]  # [N, heads, d]
        if self.training:  # straight-through: hard codes forward, softmax gradient backward
            soft = torch.einsum("nhk,hkd->nhd", (logits / self.temperature).softmax(-1), values)
            hard = hard + soft - soft.detach()
        return hard.reshape(len(latent), -1), tokens

    def lookup(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [N, heads] -> quantised latent [N, latent_dim]."""
        values = self.to_v(self.codes)  # [heads, K, d]
        picked = values[torch.arange(self.heads)[None, :], tokens]  # [N, heads, d]
        return picked.reshape(len(tokens), -1)


class GlobalVQVAE(nn.Module):
    """MLP VQ-VAE for one global embedding space, in the official key layout."""

    def __init__(self, n_channels: int, config: GlobalTokenizerConfig) -> None:
        super().__init__()
        self.n_channels, self.config = n_channels, config
        self.encoder = BottleneckMLP(n_channels, config.width, config.width, config.blocks)
        self.quant_proj = nn.Conv2d(config.width, config.latent_dim, 1)
        self.quantize = Memcodes(
            config.latent_dim, config.num_codebooks, config.codebook_size, config.temperature
        )
        self.post_quant_proj = nn.Conv2d(config.latent_dim, config.width, 1)
        self.decoder = BottleneckMLP(config.width, config.width, n_channels, config.blocks)

    def _latent(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C] -> pre-quantisation latent [N, latent_dim]."""
        h = self.encoder(x)[:, :, None, None]
        return self.quant_proj(h)[:, :, 0, 0]

    def _decode_latent(self, q: torch.Tensor) -> torch.Tensor:
        """quantised latent [N, latent_dim] -> reconstruction [N, C]."""
        return self.decoder(self.post_quant_proj(q[:, :, None, None])[:, :, 0, 0])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[N, C] -> (reconstruction [N, C], tokens [N, num_codebooks])."""
        q, tokens = self.quantize(self._latent(x))
        return self._decode_latent(q), tokens

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings [N, C] -> tokens [N, num_codebooks] (argmax per head)."""
        return self.quantize.scores(self._latent(x)).argmax(-1)

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens [N, num_codebooks] -> embeddings [N, C]."""
        return self._decode_latent(self.quantize.lookup(tokens))

    def official_config(self) -> dict[str, Any]:
        """The config in the official ``VQVAE`` keyword layout (what the loader reads)."""
        c = self.config
        return {
            "image_size": 224,
            "image_size_enc": None,
            "n_channels": self.n_channels,
            "n_labels": None,
            "enc_type": c.model_type,
            "dec_type": c.model_type,
            "patch_proj": False,
            "post_mlp": False,
            "patch_size": 14,
            "quant_type": "memcodes",
            "codebook_size": c.codebook_size,
            "num_codebooks": c.num_codebooks,
            "latent_dim": c.latent_dim,
            "norm_codes": True,
            "norm_latents": False,
            "sync_codebook": False,
            "ema_decay": 0.99,
            "threshold_ema_dead_code": 0.25,
            "code_replacement_policy": "batch_random",
            "commitment_weight": 1.0,
            "kmeans_init": False,
            "undo_std": False,
            "freeze_enc": False,
            "out_conv": False,
            "image_size_dec": None,
            "patch_size_dec": None,
            "ckpt_path": None,
        }


def center_normalize(embeddings: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Teacher embeddings minus their training mean, L2-normalised: what a tokenizer encodes.

    Raw teacher embeddings share a large common direction; removing it keeps what tells scenes
    apart, so the codes are spent on that.
    """
    return F.normalize(embeddings.float() - mean, dim=-1)


@torch.no_grad()
def tokenizer_quality(model: GlobalVQVAE, vectors: torch.Tensor, n: int = 1000) -> dict[str, float]:
    """Reconstruction cosine, and how often a decoded vector is nearest to its own original."""
    model.eval()
    x = vectors[:n].float()
    tokens = model.encode(x)
    recon = F.normalize(model.decode(tokens), dim=-1)
    nearest = (recon @ x.t()).argmax(1)
    return {
        "reconstruction_cosine": float((recon * x).sum(1).mean()),
        "self_retrieval_R@1": float((nearest == torch.arange(len(x))).float().mean()),
        "codes_used_per_head": float(
            sum(len(set(c)) for c in tokens.t().tolist()) / tokens.shape[1]
        ),
        "distinct_token_sequences": float(len({tuple(t) for t in tokens.tolist()})),
    }


def train_global_tokenizer(
    vectors: torch.Tensor,
    config: GlobalTokenizerConfig,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    device: str = "cpu",
) -> GlobalVQVAE:
    """Fit a tokenizer to unit vectors ``[N, C]`` (see :func:`center_normalize`); MSE + cosine.
    Trains on ``device``; returns the model on the CPU in eval mode.

    The codes start from encoded data so that no head begins with dead codes. With
    ``live_codes`` only that many codes per head compete during training; afterwards the others are
    set to exact copies of them (a copy decodes to the same vector and loses argmax ties to the
    first occurrence), so tokens stay below ``live_codes`` while the vocabulary keeps the
    registry's size. Fewer, more frequent codes make the FM's classification task learnable from
    a few thousand scenes.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x_all = vectors.float()
    model = GlobalVQVAE(x_all.shape[1], config)
    live = min(config.live_codes or config.codebook_size, config.codebook_size)
    with torch.no_grad():
        start = model._latent(x_all[torch.randint(len(x_all), (live,), generator=generator)])
        heads = start.view(live, config.num_codebooks, -1).transpose(0, 1)
        heads = heads + 0.01 * torch.randn(heads.shape, generator=generator)
        copies = torch.arange(config.codebook_size) % live
        model.quantize.codes.copy_(heads[:, copies])
    model.quantize.live = live if live < config.codebook_size else None
    model, x_all = model.to(device), x_all.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    model.train()
    batch = min(config.batch_size, len(x_all))
    for step in range(config.steps):
        cosine_lr(optimizer, step, config.steps, config.lr)
        x = x_all[torch.randint(len(x_all), (batch,), generator=generator).to(device)]
        recon, _ = model(x)
        loss = (
            F.mse_loss(recon, x) * x.shape[1] + (1 - F.cosine_similarity(recon, x, dim=-1)).mean()
        )
        if config.usage_weight > 0:  # spread the batch over the codes of every head
            scores = model.quantize.scores(model._latent(x)) / config.usage_temperature
            usage = scores.softmax(-1).mean(0)  # [heads, live] soft code frequencies
            entropy = -(usage * usage.clamp_min(1e-9).log()).sum(-1).mean()
            loss = loss + config.usage_weight * (math.log(usage.shape[-1]) - entropy)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if progress is not None:
            progress(step, loss.item())
    with torch.no_grad():
        model.quantize.codes.copy_(
            model.quantize.codes[:, torch.arange(config.codebook_size) % live]
        )
    model.quantize.live = None
    return model.cpu().eval()


@torch.no_grad()
def code_scores(model: GlobalVQVAE, vectors: torch.Tensor, live: int) -> torch.Tensor:
    """[N, heads, live] memcodes scores of unit vectors in units of their standard deviation.

    These are the FM's soft-target logits. Raw scores are tiny (std about 0.02, top-1 vs top-2
    margin about 0.003), so a temperature is only meaningful once they are standardised.
    """
    model.eval()
    chunks = vectors.float().split(4096)
    scores = torch.cat([model.quantize.scores(model._latent(c))[..., :live] for c in chunks])
    return (scores / scores.std().clamp_min(1e-12)).half()


def save_global_tokenizer(model: GlobalVQVAE, folder: Path) -> Path:
    """Write ``config.json`` + ``model.safetensors``: the hub layout ``load_vq_tokenizer`` reads."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(
        json.dumps(model.official_config(), indent=2, sort_keys=True)
    )
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(folder / "model.safetensors"))
    return folder
