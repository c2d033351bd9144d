"""An open_clip model (CLIP, SigLIP, ...) behind the :class:`SearchModel` interface.

One space, ``clip``: the model's joint image-text space. Gallery images and image queries go
through the model's own preprocessing and ``encode_image``; captions through its own tokenizer
and ``encode_text``; a sketch is read as an image (light lines on dark are turned dark on light,
as drawings are photographed). A query of several parts is one vector, the normalised weighted
sum of its parts' (a negative weight says "not like this"), as for the built-in model; its
information is 1. Gallery batches run through a bfloat16 copy of the image tower when the gallery
precision is bfloat16 (``ANYSEEK_MODEL__PRECISION``; auto: where a timed matmul shows bf16 faster,
``anyseek.model.runtime.precision``); queries stay in the model's own precision.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from anyseek.model.families.interface import (
    ModelError,
    QueryModality,
    QueryTransform,
    SpaceInfo,
    checked_caption,
    torch_dtype,
    weights_digest,
)
from anyseek.model.families.weighted_sum import WeightedSumModel
from anyseek.model.transforms.base import open_image
from anyseek.model.transforms.rgb import to_rgb

from .sources import ClipSource, import_open_clip, resolve

log = logging.getLogger("anyseek.model.open_clip")

SPACE = "clip"
TEXT, PIXELS = "text", "pixels"  # the two encoders a query modality goes through
QUERIES = {"caption": TEXT, "sketch": PIXELS, "image": PIXELS}
DARK = 0.5  # a sketch whose mean grey is below this is light lines on dark: inverted


def build(source: ClipSource, device: str) -> tuple[Any, Any, Any]:
    """(model, preprocess, tokenizer) of a resolved source, with open_clip's own builders; only
    the resolved weights are read (no base-tower download)."""
    open_clip = import_open_clip()
    from open_clip.model import get_model_preprocess_cfg
    from open_clip.transform import PreprocessCfg, image_transform_v2

    common = {"load_weights": False, "pretrained_image": False, "pretrained_text": False}
    quiet = _Without("No pretrained weights loaded")  # they are: load_checkpoint, right after
    logging.getLogger().addFilter(quiet)
    try:
        if source.arch is not None:
            model = open_clip.create_model(
                source.arch,
                force_quick_gelu=source.quick_gelu,
                force_preprocess_cfg=source.preprocess,
                **common,
            )
            tokenizer = open_clip.get_tokenizer(source.arch)
        else:
            model = open_clip.create_model(f"local-dir:{source.folder}", **common)
            tokenizer = _config_tokenizer(open_clip, source)
        open_clip.load_checkpoint(model, str(source.weights), strict=True)
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else repr(error)
        raise ModelError(
            f"open_clip cannot build {source.name} from {source.weights}: {first}"
        ) from None
    finally:
        logging.getLogger().removeFilter(quiet)
    model = model.to(device).eval()
    preprocess = image_transform_v2(PreprocessCfg(**get_model_preprocess_cfg(model)), False)
    return model, preprocess, tokenizer


class _Without(logging.Filter):
    """Drops open_clip's log records that start with a phrase (one that would mislead here)."""

    def __init__(self, phrase: str) -> None:
        super().__init__()
        self.phrase = phrase

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.phrase)


def _config_tokenizer(open_clip: Any, source: ClipSource) -> Any:
    """The tokenizer a model config names: open_clip's own reading of the config's folder, or the
    Hugging Face tokenizer it names when that folder holds none (a hub snapshot)."""
    text = (source.config or {}).get("model_cfg", {}).get("text_cfg", {})
    name = text.get("hf_tokenizer_name")
    folder = source.folder
    if name and folder is not None and not (folder / "tokenizer_config.json").is_file():
        from open_clip.tokenizer import HFTokenizer

        return HFTokenizer(
            name,
            context_length=text.get("context_length", 77),
            tokenizer_mode=text.get("tokenizer_mode"),
            **text.get("tokenizer_kwargs", {}),
        )
    return open_clip.get_tokenizer(f"local-dir:{folder}")


def _image(preprocess: Any) -> QueryTransform:
    """A photo (path, bytes, PIL image) -> the model's preprocessed pixels [3, S, S]."""
    return lambda source: preprocess(to_rgb(open_image(source)))


def _sketch(preprocess: Any) -> QueryTransform:
    """A drawing -> pixels as for a photo, light-on-dark drawings first turned dark on light."""

    def transform(source: Any) -> torch.Tensor:
        image = to_rgb(open_image(source))
        if np.asarray(image.convert("L"), dtype=np.float32).mean() < DARK * 255:
            image = ImageOps.invert(image)
        return preprocess(image)

    return transform


def _caption(tokenizer: Any) -> QueryTransform:
    """A caption -> the model tokenizer's ids [context length] (empty text refused)."""
    return lambda caption: tokenizer([checked_caption(caption)])[0]


class OpenClipSearchModel(WeightedSumModel):
    """An open_clip model as a search model: one joint space, caption/image/sketch queries."""

    def __init__(
        self,
        source: ClipSource,
        model: Any,
        preprocess: Any,
        tokenizer: Any,
        *,
        dtype: str = "float32",
        precision: str = "float32",
    ) -> None:
        self.source = source
        self.model = model
        self.name = source.name
        self.folder = source.folder or source.weights.parent  # files fitted to it (relevance)
        self.version = _version(source)
        self.device = next(model.parameters()).device
        self.compute_dtype = torch_dtype(dtype)
        self.use_precision(precision, dtype)  # auto: bfloat16 where a timed matmul says it pays
        self.gallery_bf16 = self.precision == "bfloat16"
        self.gallery = _bf16_image_tower(model) if self.gallery_bf16 else model
        self.palette = None
        transforms = {"caption": _caption(tokenizer), "image": _image(preprocess)}
        transforms["sketch"] = _sketch(preprocess)
        self.use_query_modalities(
            [QueryModality(q, QUERIES[q], t) for q, t in transforms.items()], f"{source.name}"
        )
        probe = self.image_input(Image.new("RGB", (32, 32)))[None]
        dim = self._encode(PIXELS, probe, self.compute_dtype).shape[1]
        self.spaces = (SpaceInfo(SPACE, "image_features", int(dim)),)

    def _autocast(self, dtype: torch.dtype) -> torch.autocast:
        """Autocast to ``dtype`` (off for float32)."""
        return torch.autocast(self.device.type, dtype, enabled=dtype != torch.float32)

    @torch.inference_mode()
    def _encode(self, encoder: str, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """One encoder's batch -> float32 unit vectors [B, D]."""
        encode = self.model.encode_text if encoder == TEXT else self.model.encode_image
        with self._autocast(dtype):
            out = encode(x.to(self.device))
        return torch.nn.functional.normalize(out.float(), dim=-1)

    @torch.inference_mode()
    def embed_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Model-ready rgb [B, 3, S, S] -> {clip: [B, D] float32}; through the bf16 copy of the
        image tower when the gallery precision is bfloat16, else in the model's own precision."""
        if not self.gallery_bf16:
            return {SPACE: self._encode(PIXELS, images, self.compute_dtype).cpu().numpy()}
        out = self.gallery.encode_image(images.to(self.device, torch.bfloat16))
        return {SPACE: torch.nn.functional.normalize(out.float(), dim=-1).cpu().numpy()}

    def _part_vectors(
        self, inputs: Sequence[Mapping[str, torch.Tensor]]
    ) -> list[dict[str, torch.Tensor]]:
        """The requests' parts batched by encoder across requests: captions through the text
        tower, images and sketches through the image tower."""
        rows: dict[str, list[tuple[int, str, torch.Tensor]]] = {TEXT: [], PIXELS: []}
        for i, given in enumerate(inputs):
            for modality, value in given.items():
                rows[QUERIES[modality]].append((i, modality, value))
        parts: list[dict[str, torch.Tensor]] = [{} for _ in inputs]
        for encoder, members in rows.items():
            if not members:
                continue
            batch = torch.stack([value for _, _, value in members])
            vectors = self._encode(encoder, batch, self.compute_dtype)
            for row, (i, modality, _) in enumerate(members):
                parts[i][modality] = vectors[row : row + 1]
        return parts


def _bf16_image_tower(model: Any) -> Any:
    """The model with a bfloat16 copy of its image tower (the text tower shared): gallery
    batches run in bf16 weights, not under autocast, because autocast takes open_clip's
    attention off PyTorch's fused path and ran slower than float32 (bench/results/clip.md)."""
    import copy

    gallery = copy.copy(model)  # shares every submodule but the one replaced below
    gallery._modules = {**model._modules, "visual": copy.deepcopy(model.visual).bfloat16()}
    return gallery


def _version(source: ClipSource) -> str:
    """The weights' content hash with everything else that changes the vectors (config,
    architecture, QuickGELU, preprocessing): the version of its vectors."""
    facts = {
        "weights": weights_digest([source.weights]),
        "arch": source.arch,
        "config": source.config,
        "quick_gelu": source.quick_gelu,
        "preprocess": source.preprocess,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def notice_licence(source: ClipSource) -> str:
    """Print (and log) the licence of the weights, as their model card says, or that none is
    reported; returns the line."""
    if source.licence:
        line = f"the weights of {source.name} are released under '{source.licence}' (model card)"
    else:
        line = (
            f"open_clip reports no licence for the weights of {source.name}: check the terms of "
            "where they came from before using them"
        )
    log.info(line)
    print(f"anyseek: {line}", file=sys.stderr, flush=True)
    return line


def load_open_clip_search_model(
    source: str | Path,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    cache: str | Path | None = None,
    precision: str = "float32",
) -> OpenClipSearchModel:
    """Load an open_clip model (see :mod:`.sources` for the source forms) as a search model;
    downloads go once into ``cache``; gallery vectors in ``precision`` (auto, float32, bfloat16)."""
    torch_dtype(dtype)  # a bad name is refused before anything is loaded or downloaded
    resolved = resolve(str(source), Path(cache).expanduser() if cache else None)
    notice_licence(resolved)
    model, preprocess, tokenizer = build(resolved, device)
    return OpenClipSearchModel(
        resolved, model, preprocess, tokenizer, dtype=dtype, precision=precision
    )
