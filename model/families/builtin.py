"""The built-in model (``anyseek.model.builtin``, the default) behind the :class:`SearchModel`
interface.

One space: the gallery image's vector, and every query modality's vector in the same space. A
query of several inputs is one vector, the normalised weighted sum of its parts' (a negative
weight says "not like this"), so joint, guided and fused combinations are the same arithmetic
here. Each query therefore tells its one space everything: its information is 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from anyseek.model.builtin.bundle import (
    SPACE,
    BuiltinBundle,
    is_builtin_bundle,
    load_builtin_bundle,
)
from anyseek.model.builtin.network import CAPTION
from anyseek.model.builtin.text import stack_words
from anyseek.model.bundle.declarations import input_transform
from anyseek.model.families.interface import (
    QueryModality,
    QueryTransform,
    SpaceInfo,
    checked_caption,
    depth_input,
    torch_dtype,
    weights_digest,
)
from anyseek.model.families.weighted_sum import WeightedSumModel


def _caption_transform(bundle: BuiltinBundle) -> QueryTransform:
    """A caption string -> the word rows the text tower reads; empty text, or text of unknown
    words only, is refused naming them instead of searching with nothing."""
    from anyseek.model.transforms.base import UserInputError

    vocab = bundle.vocab
    assert vocab is not None

    def transform(caption: Any) -> torch.Tensor:
        text = checked_caption(caption)
        if not vocab.readable(text):
            raise UserInputError(
                f"the model knows none of the caption's words ({'; '.join(vocab.warnings(text))}"
                "): describe the scene's objects by colour, size, material and shape"
            )
        return vocab.encode(text)

    return transform


def _caption_warnings(bundle: BuiltinBundle) -> Any:
    """One warning per word the model does not know: read as a known word, or left out."""
    vocab = bundle.vocab
    assert vocab is not None
    return lambda caption: vocab.warnings(caption) if isinstance(caption, str) else []


def _query_modalities(bundle: BuiltinBundle) -> list[QueryModality]:
    """One query modality per declared input, with the transform ``bundle.json`` declares."""
    out = []
    for name, declared in bundle.declarations.inputs.items():
        if name == CAPTION:
            out.append(
                QueryModality(
                    declared.query, name, _caption_transform(bundle), _caption_warnings(bundle)
                )
            )
            continue
        transform = input_transform(declared, bundle.declarations.palette)
        if declared.transform == "depth":
            transform = depth_input(transform)
        out.append(QueryModality(declared.query, name, transform))
    return out


def _stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """One batch of one input: caption word rows padded, pixel inputs stacked."""
    if tensors[0].ndim == 2 and tensors[0].dtype == torch.long:
        return stack_words(tensors)
    return torch.stack(list(tensors))


class BuiltinSearchModel(WeightedSumModel):
    """A :class:`anyseek.model.builtin.bundle.BuiltinBundle` as a search model.

    An indexed item of several parts is the normalised weighted sum of its parts' vectors, as a
    query of several is, with its photo counted four times: the photo's colours are what a
    caption names, which a depth map, a segmentation or a sketch of the same scene lack, so an
    equal sum made a record of a photo and its depth map clearly worse for captions than the
    photo alone (``docs/any_to_any.md``; the weight was chosen on seeds other than its table's).
    """

    item_weights = MappingProxyType({"image": 4.0})

    def __init__(
        self, bundle: BuiltinBundle, name: str = "builtin", dtype: str = "float32"
    ) -> None:
        self.bundle = bundle
        self.name = name
        self.folder = Path(bundle.path)
        self.version = weights_digest(list(self.folder.glob("*.safetensors")))
        self.device = next(bundle.model.parameters()).device
        self.compute_dtype = torch_dtype(dtype)
        self.palette = bundle.declarations.palette
        self.use_query_modalities(_query_modalities(bundle), f"the model at {bundle.path}")
        short = bundle.declarations.space_names[SPACE]
        self.spaces = (SpaceInfo(short, SPACE, bundle.config.embed_dim),)

    def _base(self, modality: str) -> str:
        """The network's name of a query modality's input (``sketch@64`` -> ``sketch``)."""
        return self.query_modalities[modality].input.split("@", 1)[0]

    def _autocast(self) -> torch.autocast:
        """Autocast to the compute dtype (off for float32)."""
        enabled = self.compute_dtype != torch.float32
        return torch.autocast(self.device.type, self.compute_dtype, enabled=enabled)

    @torch.inference_mode()
    def _embed(self, base: str, x: torch.Tensor) -> torch.Tensor:
        """One input's batch -> float32 unit vectors [B, D], autocast to the compute dtype."""
        with self._autocast():
            return self.bundle.model.embed(base, x.to(self.device)).float()

    @torch.inference_mode()
    def _embed_gallery(self, x: torch.Tensor) -> torch.Tensor:
        """Gallery images [B, 3, S, S] -> float32 unit vectors [B, D], in the gallery's
        precision (bfloat16 autocast when it is bfloat16, else the compute dtype)."""
        if self.precision != "bfloat16":
            return self._embed("rgb", x)
        with self.gallery_autocast():
            return self.bundle.model.embed("rgb", x.to(self.device)).float()

    def _embed_batches(self, batches: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each modality's rows -> unit vectors; the query modalities that share the trunk (a
        sketch, a depth map, a painting...) go through it in one pass, not one pass each."""
        stems = self.bundle.model.stems
        shared = [m for m in batches if self._base(m) in stems]
        vectors: dict[str, torch.Tensor] = {}
        if len(shared) > 1 and len({tuple(batches[m].shape[-2:]) for m in shared}) == 1:
            vectors.update(self._embed_shared({m: batches[m] for m in shared}))
        for modality, x in batches.items():
            if modality not in vectors:
                vectors[modality] = self._embed(self._base(modality), x)
        return vectors

    @torch.inference_mode()
    def _embed_shared(self, batches: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Several query modalities' rows [B_m, ...] through their stems and one trunk pass."""
        names = [self._base(m) for m in batches]
        x = {n: b.to(self.device) for n, b in zip(names, batches.values(), strict=True)}
        with self._autocast():
            out = self.bundle.model.embed_mixed(names, x).float()
        split = torch.split(out, [len(b) for b in batches.values()])
        return dict(zip(batches, split, strict=True))

    def embed_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Model-ready rgb [B, 3, S, S] -> {space: [B, D] float32}."""
        return {self.spaces[0].name: self._embed_gallery(images).cpu().numpy()}

    def _part_vectors(
        self, inputs: Sequence[Mapping[str, torch.Tensor]]
    ) -> list[dict[str, torch.Tensor]]:
        """The requests' parts batched by modality across requests, so each modality runs once."""
        rows: dict[str, list[tuple[int, torch.Tensor]]] = {}
        for i, given in enumerate(inputs):
            for modality, value in given.items():
                rows.setdefault(modality, []).append((i, value))
        batches = {m: _stack([v for _, v in members]) for m, members in rows.items()}
        vectors = self._embed_batches(batches)
        parts: list[dict[str, torch.Tensor]] = [{} for _ in inputs]
        for modality, members in rows.items():
            for row, (i, _) in enumerate(members):
                parts[i][modality] = vectors[modality][row : row + 1]
        return parts


def load_builtin_search_model(
    source: str | Path, *, device: str = "cpu", dtype: str = "float32", precision: str = "float32"
) -> BuiltinSearchModel:
    """Load ``builtin`` or a built-in model folder as a search model, its gallery vectors
    computed in ``precision`` (auto, float32, bfloat16)."""
    name = "builtin" if str(source) == "builtin" else Path(source).name
    bundle = load_builtin_bundle(source, device=device)
    model = BuiltinSearchModel(bundle, name=name, dtype=dtype)
    model.use_precision(precision, dtype)
    return model


__all__ = ["BuiltinSearchModel", "is_builtin_bundle", "load_builtin_search_model"]
