"""The built-in model: every input modality embedded into one space where its scene's image lies.

ImageBind's recipe at the scale of a 2-core CPU. The gallery image goes through its own conv
tower; every other pixel modality (depth, normals, segmentation, sketch, edges) through a light
stem of its own into one conv trunk that all of them share; a caption through a small word-level
transformer. Each tower ends in a projection to the same ``embed_dim``-wide unit sphere, and
training (``workbench``) pulls every query modality towards its own scene's image there by a
contrastive loss. A query of several inputs is the normalised weighted sum of their vectors.

Normalisation is GroupNorm throughout: the trunk sees a batch that mixes modalities, and
BatchNorm's running statistics would mix them too (evaluation then sees the wrong ones).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

SEMSEG_CLASSES = 7  # wall, floor, cube, sphere, cylinder, cone, torus (model.vocabulary.classes)

#: pixel input base name -> channels its stem reads (segmentation ids become one-hot planes)
PIXEL_CHANNELS: dict[str, int] = {
    "rgb": 3,
    "depth": 1,
    "normal": 3,
    "semseg": SEMSEG_CLASSES,
    "sketch": 1,
    "edges": 1,
}
IMAGE = "rgb"  # the input gallery images are embedded from
CAPTION = "caption"


@dataclass(frozen=True)
class BuiltinConfig:
    """Sizes of a built-in model; one JSON file per variant (``model/builtin/configs``)."""

    image_size: int = 64
    embed_dim: int = 256
    widths: tuple[int, ...] = (16, 32, 64, 128)  # stem width, then one per trunk stage
    groups: int = 8  # GroupNorm groups
    pool_channels: int = 64  # 1x1 conv before the final grid is flattened (keeps layout)
    max_pool: bool = False  # also the last stage's maximum over the grid: what is there, anywhere
    # channels a 1x1 conv and GELU widen the last stage to before that maximum (0: as they are):
    # room for a channel per object ("a red cube") rather than per attribute, so the maximum
    # keeps an object's colour with its shape
    max_width: int = 0
    attn_queries: int = 0  # learned queries that each attend over the grid: objects, not places
    inputs: tuple[str, ...] = ("rgb", "depth", "normal", "semseg", "sketch", "edges", CAPTION)
    text_dim: int = 128
    text_layers: int = 2
    text_heads: int = 4
    text_vocab: int = 512  # word ids (0 pad, 1 unknown), from the training captions
    text_buckets: int = 2048  # hashed letter-trigram ids, so a typo still shares most of a word
    trigrams_per_word: int = 12
    max_words: int = 32

    @property
    def grid(self) -> int:
        """Side of the trunk's last feature map: the stem halves once, each stage once more."""
        return self.image_size >> len(self.widths)

    @property
    def pixel_inputs(self) -> tuple[str, ...]:
        """The pixel inputs, the gallery image first."""
        return tuple(i for i in self.inputs if i != CAPTION)

    def to_json(self) -> dict[str, Any]:
        """The ``config.json`` contents."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BuiltinConfig:
        """Read a config (lists become tuples); unknown keys are an error naming them."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    @classmethod
    def load(cls, path: Path) -> BuiltinConfig:
        """A config file, or a variant name of ``model/builtin/configs``."""
        if not path.suffix and not path.exists():
            path = CONFIGS / f"{path}.json"
        return cls.from_json(json.loads(Path(path).read_text()))


CONFIGS = Path(__file__).parent / "configs"


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with at most ``groups`` groups that divide ``channels``."""
    g = max(d for d in range(1, groups + 1) if channels % d == 0)
    return nn.GroupNorm(g, channels)


class ConvNormAct(nn.Sequential):
    """3x3 conv (stride 1 or 2), GroupNorm, GELU."""

    def __init__(self, cin: int, cout: int, stride: int, groups: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), _norm(cout, groups), nn.GELU()
        )


class ResBlock(nn.Module):
    """Two 3x3 convs with a skip connection, same shape in and out."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.conv1 = ConvNormAct(channels, channels, 1, groups)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.norm2 = _norm(channels, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, C, H, W]."""
        return F.gelu(x + self.norm2(self.conv2(self.conv1(x))))


class Stem(nn.Sequential):
    """One modality's own layers: [B, C_in, S, S] -> [B, widths[0], S/2, S/2]."""

    def __init__(self, cin: int, width: int, groups: int) -> None:
        super().__init__(ConvNormAct(cin, width, 2, groups), ConvNormAct(width, width, 1, groups))


class GridReadout(nn.Module):
    """Learned queries, each a softmax-weighted average of the grid's cells: one object each."""

    def __init__(self, channels: int, queries: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(queries, channels) * channels**-0.5)
        self.keys = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, G, G] -> [B, Q * C]."""
        keys = self.keys(x).flatten(2)  # [B, C, N]
        scores = torch.einsum("qc,bcn->bqn", self.queries.to(keys.dtype), keys)
        weights = torch.softmax(scores * x.shape[1] ** -0.5, -1)  # [B, Q, N]
        return torch.einsum("bqn,bcn->bqc", weights, x.flatten(2)).flatten(1)


class Trunk(nn.Module):
    """Stages of (strided conv, residual block), then the grid flattened and projected."""

    def __init__(self, config: BuiltinConfig) -> None:
        super().__init__()
        w, g = config.widths, config.groups
        self.stages = nn.Sequential(
            *(
                nn.Sequential(ConvNormAct(a, b, 2, g), ResBlock(b, g))
                for a, b in itertools.pairwise(w)
            )
        )
        self.pool = nn.Conv2d(w[-1], config.pool_channels, 1)
        self.max_pool = config.max_pool
        wide = config.max_width
        self.widen = nn.Sequential(nn.Conv2d(w[-1], wide, 1), nn.GELU()) if wide else None
        self.readout = GridReadout(w[-1], config.attn_queries) if config.attn_queries else None
        pooled = (wide or w[-1]) if config.max_pool else 0
        features = config.pool_channels * config.grid**2 + pooled
        features += w[-1] * config.attn_queries
        self.head = nn.Linear(features, config.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, widths[0], S/2, S/2] -> [B, embed_dim] (not normalised)."""
        return self.project(self.stages(x))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's grid [B, C, G, G] -> [B, embed_dim] (not normalised)."""
        flat = self.pool(x).flatten(1)  # [B, P * G * G]: where things are
        if self.max_pool:
            cells = self.widen(x) if self.widen is not None else x  # [B, C or max_width, G, G]
            flat = torch.cat([flat, cells.amax((-2, -1))], 1)  # what is there, anywhere
        if self.readout is not None:
            flat = torch.cat([flat, self.readout(x)], 1)  # + [B, Q * C]: objects, one per query
        return self.head(flat)


#: rows per group the text tower encodes at once (``TextTower.forward``): small enough that a
#: batch's lengths spread over several groups, large enough to keep its matmuls efficient; of
#: 32, 64, 128 and 256, 128 made a v11 training step the cheapest on a 2-core Zen 4
#: (``lab/results/text_tower_ways.md``); a search's few rows take one pass whatever it is
TEXT_GROUP_ROWS = 128


class TextTower(nn.Module):
    """Words (an id and hashed letter trigrams each) -> a transformer over the words -> pooled."""

    def __init__(self, config: BuiltinConfig) -> None:
        super().__init__()
        d = config.text_dim
        self.words = nn.Embedding(config.text_vocab, d, padding_idx=0)
        self.trigrams = nn.EmbeddingBag(config.text_buckets, d, mode="sum", padding_idx=0)
        self.positions = nn.Parameter(torch.zeros(config.max_words, d))
        layer = nn.TransformerEncoderLayer(
            d, config.text_heads, 4 * d, dropout=0.0, activation="gelu", batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, config.text_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.embed_dim)

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        """[B, L, 1 + T] int (column 0 the word id, then trigram ids; 0 = padding) -> [B, D].

        Rows are encoded in groups of similar length, each cut to its own longest caption:
        padding changes no row's vector (it is masked and left out of the mean), and one long
        caption no longer makes every row of a training batch pay for its length. Rows alike (a
        twin's caption, a colour row many scenes share) are encoded once and given to each of
        them: the same vectors and gradients for fewer rows' work."""
        unique, inverse = torch.unique(words.flatten(1), dim=0, return_inverse=True)
        if len(unique) == len(words):
            return self.grouped(words)
        return self.grouped(unique.view(len(unique), *words.shape[1:]))[inverse]

    def grouped(self, words: torch.Tensor) -> torch.Tensor:
        """[B, L, 1 + T] distinct word rows -> [B, D], encoded in groups of similar length."""
        lengths = (words[..., 0] != 0).sum(1)  # [B]
        if len(words) <= TEXT_GROUP_ROWS:
            return self.encode(words[:, : max(1, int(lengths.max()))])
        order = lengths.argsort(stable=True)
        parts = [
            self.encode(words[rows, : max(1, int(lengths[rows].max()))])
            for rows in order.split(TEXT_GROUP_ROWS)
        ]
        return torch.cat(parts)[order.argsort()]

    def encode(self, words: torch.Tensor) -> torch.Tensor:
        """[B, L, 1 + T] word rows, as :meth:`forward` takes them -> [B, D], all in one pass."""
        b, length, t = words.shape
        ids, grams = words[..., 0], words[..., 1:]
        grams_per_word = self.trigrams(grams.reshape(b * length, t - 1)).view(b, length, -1)
        x = self.words(ids) + grams_per_word + self.positions[:length]  # [B, L, d]
        pad = ids == 0
        x = self.encoder(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        pooled = (self.norm(x) * keep).sum(1) / keep.sum(1).clamp_min(1.0)  # [B, d]
        return self.head(pooled)


class BuiltinModel(nn.Module):
    """The image tower, the query stems and their shared trunk, the text tower, one space."""

    def __init__(self, config: BuiltinConfig) -> None:
        super().__init__()
        self.config = config
        w0, g = config.widths[0], config.groups
        self.image_stem = Stem(PIXEL_CHANNELS[IMAGE], w0, g)
        self.image_trunk = Trunk(config)
        queries = [i for i in config.pixel_inputs if i != IMAGE]
        self.stems = nn.ModuleDict({q: Stem(PIXEL_CHANNELS[q], w0, g) for q in queries})
        self.trunk = Trunk(config)
        self.text = TextTower(config) if CAPTION in config.inputs else None

    @staticmethod
    def planes(name: str, x: torch.Tensor) -> torch.Tensor:
        """A pixel input as float planes: segmentation ids [B, S, S] -> one-hot [B, K, S, S]."""
        if name == "semseg":
            return F.one_hot(x.long(), SEMSEG_CLASSES).permute(0, 3, 1, 2).float()
        return x.float()

    def embed_images(self, rgb: torch.Tensor) -> torch.Tensor:
        """ImageNet-normalised rgb [B, 3, S, S] -> unit vectors [B, D]."""
        return self.embed_images_and_grid(rgb)[0]

    def embed_images_and_grid(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ImageNet-normalised rgb [B, 3, S, S] -> unit vectors [B, D] and the image trunk's
        last grid [B, C, G, G], which training may supervise cell by cell."""
        grid = self.image_trunk.stages(self.image_stem(rgb))
        return F.normalize(self.image_trunk.project(grid).float(), dim=-1), grid

    def embed_pixels(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """One query modality's inputs [B, C, S, S] (semseg: [B, S, S] ids) -> unit vectors."""
        return F.normalize(self.trunk(self.stems[name](self.planes(name, x))).float(), dim=-1)

    def embed_mixed(self, names: list[str], x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Rows of several query modalities through one trunk pass: ``x[name]`` holds the rows
        of ``name``; returns their unit vectors in the order of ``names``'s concatenation."""
        stemmed = [self.stems[n](self.planes(n, x[n])) for n in names]
        return F.normalize(self.trunk(torch.cat(stemmed)).float(), dim=-1)

    def embed_text(self, words: torch.Tensor) -> torch.Tensor:
        """Caption words [B, L, 1 + T] -> unit vectors [B, D]."""
        if self.text is None:
            raise ValueError("this model takes no captions")
        return F.normalize(self.text(words).float(), dim=-1)

    def embed(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Any input by its base name -> unit vectors [B, D]."""
        if name == IMAGE:
            return self.embed_images(x)
        if name == CAPTION:
            return self.embed_text(x)
        return self.embed_pixels(name, x)


def combine(vectors: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """Several inputs' vectors [B, D] of the same queries -> their normalised weighted sum."""
    total = sum(float(weights.get(n, 1.0)) * v for n, v in vectors.items())
    return F.normalize(total, dim=-1)
