"""MultiMAE behind the service's :class:`anyseek.model.families.interface.SearchModel` interface.

One space, ``multimae``: the encoder's global token(s), averaged and L2-normalised, from whatever
inputs a query gives (image, depth, semseg, or any combination). Gallery images are encoded from
rgb alone. Segmentation pixels without a class ("unlabelled") cannot be embedded (the pretraining
adapter has no void class), so the patches holding them are masked out of the encoder instead.
The output adapters give the depth and segmentation MultiMAE sees in an image (for explain).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from anyseek.model.families.base import SearchModelBase
from anyseek.model.families.interface import (
    RECONSTRUCTION_KINDS,
    ModelError,
    QueryEmbedding,
    QueryModality,
    QueryRequest,
    SpaceInfo,
    torch_dtype,
    weights_digest,
)
from anyseek.model.fourm.checkpoint import CheckpointError
from anyseek.model.transforms.base import ImageSource, UserInputError

from .config import SEMSEG
from .loading import find_weights, load_multimae
from .network import MultiMAE

SPACE = "multimae"
UNLABELLED = -1  # class id of pixels without a class in a semseg query
QUERY_INPUTS = {"image": "rgb", "depth": "depth", "semseg": "semseg"}  # query name -> model input


@dataclass(frozen=True)
class MultiMAESemsegTransform:
    """User segmentation -> MultiMAE class ids ``[size, size]`` (COCO 0..C-1, -1 = none)."""

    size: int
    num_classes: int

    def __call__(self, source: ImageSource) -> torch.Tensor:
        """Read with the shared semseg transform (COCO ids or palette colours), then shift back."""
        from anyseek.model.transforms.semseg import SemsegTransform

        ids = SemsegTransform(size=self.size, ids="coco")(source) - 1  # model numbering -> COCO
        if int(ids.max()) >= self.num_classes:
            bad = torch.unique(ids[ids >= self.num_classes])[:10].tolist()
            raise UserInputError(
                f"segmentation has class ids {bad} this MultiMAE does not know "
                f"(it has 0..{self.num_classes - 1})"
            )
        return ids


@dataclass(frozen=True)
class Reconstructions:
    """What the output adapters see in images: depth and segmentation at model resolution."""

    depth: torch.Tensor  # [B, 1, S, S] standardised depth (larger = farther), as pretraining
    semseg_logits: torch.Tensor  # [B, C, S/4, S/4]

    @property
    def semseg(self) -> torch.Tensor:
        """Most likely COCO panoptic class per pixel [B, S/4, S/4] int64."""
        return self.semseg_logits.argmax(1)

    def thumbnails(self, index: int = 0, size: int | None = None) -> dict[str, Image.Image]:
        """Depth (near = bright) and palette-coloured segmentation of one image as PIL images."""
        from anyseek.model.transforms.semseg import colorize, semseg_classes

        depth = self.depth[index, 0].float()
        span = (depth.max() - depth.min()).clamp_min(1e-6)
        grey = ((depth.max() - depth) / span * 255).round().to(torch.uint8).cpu().numpy()
        ids = self.semseg[index].cpu() + 1  # COCO id -> palette numbering (0 = no class)
        ids = torch.where(ids < len(semseg_classes()), ids, 0)
        out = {"depth": Image.fromarray(grey), "semseg": colorize(ids)}
        if size is not None:
            out = {k: v.resize((size, size), Image.Resampling.NEAREST) for k, v in out.items()}
        return out


class MultiMAESearchModel(SearchModelBase):
    """A :class:`MultiMAE` as a search model: one global-token space, image/depth/semseg queries."""

    def __init__(
        self,
        model: MultiMAE,
        *,
        name: str = "multimae",
        version: str = "untracked",
        pooling: Literal["global", "all"] = "global",
        folder: Path | None = None,
    ) -> None:
        self.model = model.eval()
        self.name = name
        self.folder = folder  # the checkpoint's folder: files fitted to it (relevance.json)
        self.pooling = pooling
        self.version = version if pooling == "global" else f"{version}-{pooling}"
        self.device = model.global_tokens.device
        config = model.config
        self.image_size = config.image_size
        self.spaces = (SpaceInfo(SPACE, "global_tokens", config.dim_tokens),)
        self.palette = None  # segmentations in the COCO numbering and palette
        self.use_query_modalities(self._query_modalities(), "this MultiMAE")

    def _query_modalities(self) -> list[QueryModality]:
        """The user-file transforms of the modalities this checkpoint has input adapters for."""
        from anyseek.model.transforms import transform_for

        size, out = self.image_size, {}
        for query, modality in QUERY_INPUTS.items():
            if modality not in self.model.input_adapters:
                continue
            adapter = self.model.config.input_adapter(modality)
            if adapter.cls == SEMSEG:
                side = size // adapter.stride_level
                transform = MultiMAESemsegTransform(side, adapter.num_classes)
            else:  # rgb: ImageNet normalisation; depth: truncated standardisation (both as here)
                transform = transform_for(modality, size)
            out[query] = QueryModality(query, modality, transform)
        return list(out.values())

    # ----------------------------------------------------------------------------- gallery

    @torch.no_grad()
    def embed_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Model-ready rgb [B, 3, S, S] -> {multimae: [B, D] float32, L2-normalised}."""
        with self.gallery_autocast():
            hidden = self.model.encode({"rgb": images.to(self.device)})
        return {SPACE: self._pool(hidden).cpu().numpy()}

    def _pool(self, hidden: torch.Tensor) -> torch.Tensor:
        """Encoder output [B, K + G, D] -> normalised [B, D] (global tokens, or all tokens)."""
        G = self.model.config.num_global_tokens
        pooled = hidden[:, -G:].mean(1) if self.pooling == "global" else hidden.mean(1)
        return torch.nn.functional.normalize(pooled.float(), dim=-1)

    # ----------------------------------------------------------------------------- queries

    def embed_queries(self, requests: Sequence[QueryRequest]) -> list[dict[str, QueryEmbedding]]:
        """Several queries, one by one: all weights 1 -> one joint pass; else fused parts
        (MultiMAE predicts no token distributions to guide; priors are unused)."""
        return [self._embed(request) for request in requests]

    def _embed(self, request: QueryRequest) -> dict[str, QueryEmbedding]:
        """One query: joint when every weight is 1, otherwise its parts fused."""
        from anyseek.model.families.combination import fuse_predictions
        from anyseek.model.fourm.inference.predict import SpaceEmbedding

        self.check_request(request)
        if request.joint:
            return self._embed_joint(request.inputs)
        if request.combine != "fusion":
            raise ModelError(
                f"MultiMAE cannot combine weighted parts by {request.combine!r}: it predicts no "
                "token distributions; use fusion"
            )
        weights = request.weights or {}
        if not any(weights.get(k, 1.0) > 0 for k in request.inputs):
            raise ModelError("a query needs at least one part with a positive weight")
        found = []
        for name, value in request.inputs.items():
            alone = self._embed_joint({name: value})[SPACE]
            embedding = SpaceEmbedding(
                torch.from_numpy(alone.vector)[None], torch.tensor([alone.information])
            )
            found.append((float(weights.get(name, 1.0)), embedding))
        fused = fuse_predictions(found)
        return {SPACE: QueryEmbedding(fused.vectors[0].numpy(), float(fused.information[0]))}

    @torch.no_grad()
    def _embed_joint(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, QueryEmbedding]:
        """Query inputs by query-modality name, one sample each -> the multimae vector."""
        batch = {
            self.query_modalities[k].input: v.unsqueeze(0).to(self.device)
            for k, v in inputs.items()
        }
        visible = {}
        if "semseg" in batch:  # unlabelled pixels: mask their patches instead of embedding them
            ids = batch["semseg"]
            visible["semseg"] = self._labelled_patches(ids)
            batch["semseg"] = ids.clamp_min(0)
        tokens, layout = self.model.tokenize(batch)
        mask = self.model.visible_mask(layout, 1, visible)
        if not bool(mask.any()):
            raise UserInputError("the segmentation has no labelled patch: paint at least one class")
        hidden, _ = self.model.encode_visible(tokens, mask)
        return {SPACE: QueryEmbedding(self._pool(hidden)[0].cpu().numpy(), 1.0)}

    def _labelled_patches(self, ids: torch.Tensor) -> torch.Tensor:
        """[1, h', w'] ids -> [1, N] True where a patch holds no unlabelled pixel."""
        patch = self.model.input_adapters["semseg"].patch
        unlabelled = (ids < 0).float()[:, None]  # [1, 1, h', w']
        hit = torch.nn.functional.max_pool2d(unlabelled, patch, patch)  # [1, 1, h, w]
        return (hit.flatten(1) == 0).cpu()

    # ----------------------------------------------------------------------------- explain

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> Reconstructions:
        """Model-ready rgb [B, 3, S, S] or [3, S, S] (all patches visible) -> depth and semseg."""
        if images.dim() == 3:
            images = images[None]
        wanted = tuple(n for n in ("depth", "semseg") if n in self.model.output_adapters)
        if len(wanted) < 2:
            raise ModelError("this MultiMAE checkpoint has no depth/semseg output adapters")
        out = self.model.reconstruct({"rgb": images.to(self.device)}, None, wanted)
        return Reconstructions(
            depth=out["depth"].float().cpu(), semseg_logits=out["semseg"].float().cpu()
        )

    def reconstruction_pngs(self, images: torch.Tensor, size: int) -> list[dict[str, bytes]]:
        """Model-ready rgb [B, 3, S, S] -> per image depth and semseg thumbnails as PNG bytes."""
        found = self.reconstruct(images)
        out = []
        for index in range(found.depth.shape[0]):
            pictures = found.thumbnails(index, size)
            out.append({kind: _png(pictures[kind]) for kind in RECONSTRUCTION_KINDS})
        return out


def _png(image: Image.Image) -> bytes:
    """A PIL image -> PNG bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def is_multimae_source(source: object) -> bool:
    """Whether ``source`` names a MultiMAE checkpoint (.pth, .safetensors or a folder of one)."""
    if not isinstance(source, (str, Path)):
        return False
    path = Path(source).expanduser()
    if not path.exists() or (path / "bundle.json").is_file():
        return False
    try:
        weights = find_weights(path)
    except CheckpointError:
        return False
    if weights.suffix == ".pth":
        return True
    if weights.suffix != ".safetensors":
        return False
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="pt") as handle:
            keys = list(handle.keys())
    except (OSError, ValueError, RuntimeError, SafetensorError):
        return False
    return any(k == "global_tokens" or k.startswith("input_adapters.") for k in keys)


def load_multimae_search_model(
    source: str | Path, *, device: str = "cpu", dtype: str = "float32", precision: str = "float32"
) -> MultiMAESearchModel:
    """Load a MultiMAE checkpoint as a search model, its gallery vectors computed in
    ``precision`` (auto, float32, bfloat16); its version is the weights' content hash."""
    weights = find_weights(source)
    network = load_multimae(weights, device=device, dtype=torch_dtype(dtype))
    model = MultiMAESearchModel(
        network, name=Path(source).name, version=weights_digest([weights]), folder=weights.parent
    )
    model.use_precision(precision, dtype)
    return model
