"""The model as the service sees it: gallery images and query files in, vectors per space out.

The indexer, search and the API talk to one small interface, :class:`SearchModel`, so they work
unchanged whichever model ``ANYSEEK_MODEL__SOURCE`` names (the built-in bundle today; official
4M-21 checkpoints and MultiMAE each add one adapter). A model declares:

* its **identity** (``name``, ``version``): vectors of different versions are not comparable;
* its **spaces**: short name (``clip``), the model output behind it and the vector dimension;
* its **query modalities**: short name (``sketch``) -> model input name and the transform that
  turns what a user has (a file, bytes, a PIL image, a string) into that input;
* ``embed_images``: gallery images -> one vector per space, from the rgb input in one pass;
* ``embed_query``: any subset of query inputs -> per space a vector and its information.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from anyseek.errors import AnyseekError
from anyseek.settings import ModelSettings

QueryTransform = Callable[[Any], torch.Tensor]


@dataclass(frozen=True)
class SpaceInfo:
    """One embedding space a model produces: short name, the model output behind it, dim."""

    name: str  # short name used by stores, the API and reports, e.g. "clip"
    output: str  # the model's output modality, e.g. "tok_clip_global"
    dim: int
    metric: str = "cosine"


@dataclass(frozen=True)
class QueryModality:
    """One kind of query a model accepts: its public name, model input and user-file transform."""

    name: str  # e.g. "sketch"
    input: str  # e.g. "sketch@64"
    transform: QueryTransform  # user file / value -> the model input for ONE sample


@dataclass(frozen=True)
class QueryEmbedding:
    """One query's prediction in one space: an L2-normalised vector and what it says (nats)."""

    vector: np.ndarray  # [dim] float32
    information: float


class ModelError(AnyseekError):
    """The configured model cannot be loaded or cannot serve the request."""


@runtime_checkable
class SearchModel(Protocol):
    """What the indexer and search need of any model."""

    name: str
    version: str
    spaces: tuple[SpaceInfo, ...]
    query_modalities: Mapping[str, QueryModality]

    def embed_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Model-ready rgb [B, 3, S, S] -> {space: [B, dim] float32, L2-normalised}."""
        ...

    def image_input(self, image: Any) -> torch.Tensor:
        """One gallery image (path, bytes, PIL image) -> model-ready rgb [3, S, S]."""
        ...

    def embed_query(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, QueryEmbedding]:
        """Query inputs keyed by query-modality name (one sample each) -> per-space prediction."""
        ...


def _bundle_query_modalities(bundle: Any) -> dict[str, QueryModality]:
    """The query modalities of a bundle, with the transforms its model was trained with."""
    from model.transforms import transform_for
    from model.transforms.semseg import SemsegTransform

    out: dict[str, QueryModality] = {}
    for name in bundle.input_modalities:
        base, _, res = name.partition("@")
        if base == "caption":
            text = bundle.text
            out[base] = QueryModality(base, name, lambda s, text=text: _caption_ids(text, s))
        elif base == "semseg":  # the built-in model reads its own class ids, not COCO's
            out[base] = QueryModality(base, name, SemsegTransform(size=int(res), ids="model"))
        else:
            transform = transform_for(base, int(res))
            out[base] = QueryModality(base, name, transform)
    if "rgb" in out:
        out["image"] = out.pop("rgb")
    return out


def _caption_ids(text: Any, caption: str) -> torch.Tensor:
    """A caption string -> the WordPiece ids [L] the model reads (refusing empty text)."""
    from model.transforms.base import UserInputError

    if not isinstance(caption, str) or not caption.strip():
        raise UserInputError("the caption is empty: type a few words describing the image")
    return text.caption_batch([caption.strip()]).ids[0]


def _file_digest(paths: Sequence[Path]) -> str:
    """A short content hash of a model's weight files: the version of its vectors."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        with path.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


class BundleSearchModel:
    """A :class:`model.bundle.ModelBundle` (the built-in model or another bundle folder)."""

    #: short space names of bundle outputs (``tok_clip_global`` -> ``clip``)
    @staticmethod
    def short_name(output: str) -> str:
        return output.removeprefix("tok_").removesuffix("_global")

    def __init__(self, bundle: Any, name: str = "builtin") -> None:
        self.bundle = bundle
        self.name = name
        self.version = _file_digest(list(Path(bundle.path).rglob("*.safetensors")))
        self.device = bundle.fm.device
        self.query_modalities = _bundle_query_modalities(bundle)
        self._image = self.query_modalities["image"]
        from PIL import Image

        probe = self._image.transform(Image.new("RGB", (8, 8)))[None]
        dims = {out: v.shape[1] for out, v in bundle.embed(self._inputs(probe)).items()}
        self.spaces = tuple(SpaceInfo(self.short_name(o), o, int(d)) for o, d in dims.items())

    def _inputs(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        return {self._image.input: rgb.to(self.device)}

    def image_input(self, image: Any) -> torch.Tensor:
        """One gallery image -> model-ready rgb [3, S, S]."""
        return self._image.transform(image)

    def embed_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Model-ready rgb [B, 3, S, S] -> {space: [B, dim] float32} in one encoder pass."""
        vectors = self.bundle.embed(self._inputs(images))
        return {s.name: vectors[s.output].float().cpu().numpy() for s in self.spaces}

    def embed_query(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, QueryEmbedding]:
        """Query inputs by query-modality name, one sample each -> per-space prediction."""
        unknown = sorted(set(inputs) - set(self.query_modalities))
        if unknown or not inputs:
            raise ModelError(
                f"query modalities {unknown or '(none)'} are not accepted; this model takes: "
                f"{', '.join(self.query_modalities)}"
            )
        batch = {
            self.query_modalities[k].input: v.unsqueeze(0).to(self.device)
            for k, v in inputs.items()
        }
        found = self.bundle.embed_spaces(batch)
        return {
            s.name: QueryEmbedding(
                found[s.output].vectors[0].float().cpu().numpy(),
                float(found[s.output].information[0]),
            )
            for s in self.spaces
        }


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA device is there, else ``cpu``; others as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"ANYSEEK_MODEL__DEVICE={device!r} but no CUDA device is available")
    return device


def load_search_model(
    source: str | ModelSettings = "builtin", *, device: str = "cpu", dtype: str = "float32"
) -> SearchModel:
    """The search model behind ``ANYSEEK_MODEL__SOURCE`` (a bundle folder or ``builtin``).

    Given the ``ModelSettings`` (``ANYSEEK_MODEL__*``), their source, device and dtype are used.
    """
    from model.bundle import is_bundle, load_bundle
    from model.multimae.search import is_multimae_source, load_multimae_search_model

    if isinstance(source, ModelSettings):
        source, device, dtype = source.source, source.device, source.dtype

    if is_multimae_source(source):  # a MultiMAE .pth / .safetensors file or folder
        return load_multimae_search_model(source, device=resolve_device(device), dtype=dtype)

    if not is_bundle(source):
        raise ModelError(
            f"ANYSEEK_MODEL__SOURCE={source!r} is not a model bundle; serving other checkpoints "
            "is not supported yet"
        )
    name = "builtin" if str(source) == "builtin" else Path(source).name
    bundle = load_bundle(source, device=resolve_device(device), dtype=DTYPES[dtype])
    return BundleSearchModel(bundle, name=name)
