"""A 4M-format FM bundle folder (the built-in model up to v3) behind the :class:`SearchModel`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anyseek.model.bundle.declarations import declare, input_transform
from anyseek.model.bundle.definition import CAPTION_TRANSFORM, InputTransform, builtin_palette
from anyseek.model.families.base import SearchModelBase
from anyseek.model.families.fm_bundle.loading import is_bundle, load_bundle
from anyseek.model.families.interface import (
    ModelError,
    QueryEmbedding,
    QueryModality,
    QueryRequest,
    QueryTransform,
    QueryWarnings,
    SpaceInfo,
    caption_ids,
    checked_caption,
    depth_input,
    torch_dtype,
    unknown_word_warnings,
    weights_digest,
)
from anyseek.model.vocabulary.synonyms import canonical_caption


def _bundle_query_modalities(bundle: Any) -> list[QueryModality]:
    """The query modalities of a bundle, each with the transform its ``bundle.json`` declares."""
    return [
        QueryModality(
            declared.query, name, _transform(bundle, declared), _warnings(bundle, declared)
        )
        for name, declared in ((n, bundle.declarations.inputs[n]) for n in bundle.input_modalities)
    ]


def caption_text(text: Any, caption: Any) -> Any:
    """A caption as the built-in model reads it: people's synonyms first become the scene world's
    words (``anyseek.model.vocabulary.synonyms``), then the words its closed WordPiece (trained on
    the scene
    captions) does not hold are left out; each is reported by :func:`_warnings`."""
    if not isinstance(caption, str):
        return caption
    return text.known_text(canonical_caption(caption), closed=True)


def _warnings(bundle: Any, declared: InputTransform) -> QueryWarnings | None:
    """Captions: one warning per word the model leaves out (``unknown word "stripes"``)."""
    if declared.transform != CAPTION_TRANSFORM:
        return None
    return lambda s, text=bundle.text: unknown_word_warnings(
        text, canonical_caption(s) if isinstance(s, str) else s, closed=True
    )


def _transform(bundle: Any, declared: InputTransform) -> QueryTransform:
    """User file -> model input for one declared input (captions through the bundle's text)."""
    if declared.transform == CAPTION_TRANSFORM:
        return lambda s, text=bundle.text: _caption_text_ids(text, s)
    transform = input_transform(declared, bundle.declarations.palette)
    return depth_input(transform) if declared.transform == "depth" else transform


def _caption_text_ids(text: Any, caption: Any) -> torch.Tensor:
    """The ids of a caption as the built-in model reads it; a caption of unknown words only is
    refused with them named, instead of searching with nothing."""
    from anyseek.model.transforms.base import UserInputError

    caption = checked_caption(caption)
    known = caption_text(text, caption)
    if not known.strip():
        unknown = unknown_word_warnings(text, canonical_caption(caption), closed=True)
        raise UserInputError(
            f"the model knows none of the caption's words ({'; '.join(unknown) or 'none'}): "
            "describe the scene's objects by colour, size, material and shape"
        )
    return caption_ids(text, known)


class BundleSearchModel(SearchModelBase):
    """A 4M-format FM bundle (:class:`anyseek.model.families.fm_bundle.loading.ModelBundle`)."""

    def __init__(self, bundle: Any, name: str = "builtin") -> None:
        self.bundle = bundle
        self.name = name
        self.folder = Path(bundle.path)
        self.version = weights_digest(list(self.folder.rglob("*.safetensors")))
        self.device = bundle.fm.device
        if bundle.declarations is None:  # assembled in code, not loaded from a folder
            bundle = replace(
                bundle,
                declarations=declare(bundle.input_modalities, bundle.fm.output_modalities),
            )
            self.bundle = bundle
        self.palette = bundle.declarations.palette
        self.use_query_modalities(_bundle_query_modalities(bundle), f"the model at {bundle.path}")
        from PIL import Image

        probe = self.image_input(Image.new("RGB", (8, 8)))[None]
        dims = {out: v.shape[1] for out, v in bundle.embed(self._inputs(probe)).items()}
        names = bundle.declarations.space_names
        self.spaces = tuple(SpaceInfo(names[o], o, int(d)) for o, d in dims.items())

    def _inputs(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        return {self.gallery_input.input: rgb.to(self.device)}

    def embed_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Model-ready rgb [B, 3, S, S] -> {space: [B, dim] float32} in one encoder pass."""
        with self.gallery_autocast():
            vectors = self.bundle.embed(self._inputs(images))
        return {s.name: vectors[s.output].float().cpu().numpy() for s in self.spaces}

    def embed_queries(self, requests: Sequence[QueryRequest]) -> list[dict[str, QueryEmbedding]]:
        """Several queries: joint ones batched by modality set, weighted ones one by one."""
        for request in requests:
            self.check_request(request)
        out: list[dict[str, QueryEmbedding]] = [{} for _ in requests]
        groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
        views: dict[int, Any] = {}
        for i, request in enumerate(requests):
            key = id(request.priors)
            if key not in views:
                views[key] = self._view(request.priors)
            if request.joint:
                groups.setdefault((tuple(sorted(request.inputs)), key), []).append(i)
            else:
                out[i] = self._weighted(request, views[key])
        for (names, key), members in groups.items():
            batch = {
                self.query_modalities[n].input: _stack([requests[i].inputs[n] for i in members])
                for n in names
            }
            found = views[key].embed_spaces({k: v.to(self.device) for k, v in batch.items()})
            for row, i in enumerate(members):
                out[i] = self._row(found, row)
        return out

    def _view(self, priors: Mapping[str, torch.Tensor] | None) -> Any:
        """The bundle with these priors (by space name) instead of its own: a shallow copy
        sharing the FM and tokenizers, so concurrent queries never see each other's priors."""
        if priors is None:
            return self.bundle
        outputs = {s.name: s.output for s in self.spaces}
        unknown = sorted(set(priors) - set(outputs))
        if unknown:
            raise ModelError(f"priors for unknown spaces {unknown}; spaces: {list(outputs)}")
        return replace(self.bundle, priors={outputs[k]: v for k, v in priors.items()})

    def _weighted(self, request: QueryRequest, bundle: Any) -> dict[str, QueryEmbedding]:
        """One weighted query, its parts combined the way it names (on ``bundle``'s priors)."""
        from anyseek.model.families.combination import WeightedPart, combine

        parts = [
            WeightedPart(
                {self.query_modalities[k].input: v.unsqueeze(0).to(self.device)},
                float((request.weights or {}).get(k, 1.0)),
            )
            for k, v in request.inputs.items()
        ]
        return self._row(combine(bundle, parts, request.combine), 0)

    def _row(self, found: Mapping[str, Any], row: int) -> dict[str, QueryEmbedding]:
        """One query's vectors and information out of a batched prediction."""
        return {
            s.name: QueryEmbedding(
                found[s.output].vectors[row].float().cpu().numpy(),
                float(found[s.output].information[row]),
            )
            for s in self.spaces
        }


def _stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """One batch of one modality's inputs; 1-d id sequences (captions) padded with 0 = [PAD]."""
    if tensors[0].ndim == 1:
        length = max(t.shape[0] for t in tensors)
        return torch.stack([torch.nn.functional.pad(t, (0, length - t.shape[0])) for t in tensors])
    return torch.stack(list(tensors))


def load_bundle_search_model(
    source: str | Path, *, device: str = "cpu", dtype: str = "float32", precision: str = "float32"
) -> BundleSearchModel:
    """Load ``builtin`` or a bundle folder as a search model, its gallery vectors computed in
    ``precision`` (auto, float32, bfloat16)."""
    name = "builtin" if str(source) == "builtin" else Path(source).name
    bundle = load_bundle(source, device=device, dtype=torch_dtype(dtype))
    model = BundleSearchModel(bundle, name=name)
    model.use_precision(precision, dtype)
    return model


__all__ = ["BundleSearchModel", "builtin_palette", "is_bundle", "load_bundle_search_model"]
