"""The model as the service sees it: gallery images and query files in, vectors per space out.

The indexer, search and the API talk to one small interface, :class:`SearchModel`, so they work
unchanged whichever model ``ANYSEEK_MODEL__SOURCE`` names (the built-in bundle today; official
4M-21 checkpoints and MultiMAE each add one adapter). A model declares:

* its **identity** (``name``, ``version``): vectors of different versions are not comparable;
* its **spaces**: short name (``clip``), the model output behind it and the vector dimension;
* its **query modalities**: short name (``sketch``) -> model input name and the transform that
  turns what a user has (a file, bytes, a PIL image, a string) into that input;
* ``embed_images``: gallery images -> one vector per space, from the rgb input in one pass;
* ``embed_query``: any subset of query inputs, each with a weight (negative: "not like this"),
  -> per space a vector and its information, combined jointly (one pass), by guidance or by
  fusion (``model.query_combination``);
* its **class palette** when it reads segmentations in its own numbering (the built-in model
  knows the scene classes of ``model.data``, not COCO's).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from anyseek.errors import AnyseekError
from anyseek.settings import ModelSettings
from model.transforms.palette_semseg import ClassPalette, PaletteSemsegTransform

QueryTransform = Callable[[Any], torch.Tensor]
MAX_CAPTION_CHARS = 2_000  # longer text is no caption; refused before tokenising
NUMPY_MAGIC = b"\x93NUMPY"


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
class QueryRequest:
    """One query for :meth:`SearchModel.embed_queries`: inputs, weights and combination."""

    inputs: Mapping[str, torch.Tensor]
    weights: Mapping[str, float] | None = None
    combine: str = "fusion"

    @property
    def joint(self) -> bool:
        """Whether one joint pass answers it: every weight 1, or a single positive part."""
        weights = [float((self.weights or {}).get(k, 1.0)) for k in self.inputs]
        return all(w == 1.0 for w in weights) or (len(weights) == 1 and weights[0] > 0)


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
    palette: ClassPalette | None  # classes of the segmentation input, when the model has one

    def embed_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Model-ready rgb [B, 3, S, S] -> {space: [B, dim] float32, L2-normalised}."""
        ...

    def image_input(self, image: Any) -> torch.Tensor:
        """One gallery image (path, bytes, PIL image) -> model-ready rgb [3, S, S]."""
        ...

    def embed_query(
        self,
        inputs: Mapping[str, torch.Tensor],
        weights: Mapping[str, float] | None = None,
        combine: str = "fusion",
    ) -> dict[str, QueryEmbedding]:
        """Query inputs keyed by query-modality name (one sample each), with optional weights
        (default 1; negative = "not like this") -> per-space prediction. All weights 1: one
        joint pass; otherwise ``combine`` names how per-part predictions are combined."""
        ...

    def embed_queries(self, requests: Sequence[QueryRequest]) -> list[dict[str, QueryEmbedding]]:
        """Several queries at once (micro-batching): the joint ones with the same modalities
        share one encoder pass; the result of each is what ``embed_query`` gives it."""
        ...


def builtin_palette() -> ClassPalette:
    """The scene classes the built-in model was trained on, with their contact-sheet colours."""
    from model.data import CLASSES
    from model.data.contact_sheet import CLASS_COLOURS
    from model.transforms.semseg import SemsegClass

    return ClassPalette(
        tuple(SemsegClass(i, name, tuple(int(c) for c in CLASS_COLOURS[i])) for i, name in CLASSES)
    )


def _depth_input(transform: QueryTransform) -> QueryTransform:
    """A depth transform that also reads ``.npy`` content given as bytes (uploads)."""

    def read(source: Any) -> torch.Tensor:
        if isinstance(source, bytes | bytearray) and bytes(source[:6]) == NUMPY_MAGIC:
            from model.transforms.base import UserInputError

            try:
                source = np.load(io.BytesIO(source), allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise UserInputError(f"depth data is not a readable .npy array ({exc})") from None
        return transform(source)

    return read


def _bundle_query_modalities(bundle: Any, palette: ClassPalette) -> dict[str, QueryModality]:
    """The query modalities of a bundle, with the transforms its model was trained with."""
    from model.transforms import transform_for

    special: dict[str, Callable[[int], QueryTransform]] = {
        "caption": lambda _: lambda s, text=bundle.text: _caption_ids(text, s),
        "semseg": lambda res: PaletteSemsegTransform(palette, size=res),  # its own class ids
        "depth": lambda res: _depth_input(transform_for("depth", res)),
    }
    out: dict[str, QueryModality] = {}
    for name in bundle.input_modalities:
        base, _, res = name.partition("@")
        make = special.get(base, lambda r, base=base: transform_for(base, r))
        out[base] = QueryModality(base, name, make(int(res) if res else 0))
    if "rgb" in out:
        out["image"] = out.pop("rgb")
    return out


def _caption_ids(text: Any, caption: str) -> torch.Tensor:
    """A caption string -> the WordPiece ids [L] the model reads (refusing empty text)."""
    from model.transforms.base import UserInputError

    if not isinstance(caption, str) or not caption.strip():
        raise UserInputError("the caption is empty: type a few words describing the image")
    if len(caption) > MAX_CAPTION_CHARS:
        raise UserInputError(
            f"the caption is {len(caption):,} characters long; at most {MAX_CAPTION_CHARS:,} "
            "are accepted (describe the image in a sentence or two)"
        )
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
        self.palette = builtin_palette()
        self.query_modalities = _bundle_query_modalities(bundle, self.palette)
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

    def embed_query(
        self,
        inputs: Mapping[str, torch.Tensor],
        weights: Mapping[str, float] | None = None,
        combine: str = "fusion",
    ) -> dict[str, QueryEmbedding]:
        """Query inputs by query-modality name, one sample each -> per-space prediction."""
        return self.embed_queries([QueryRequest(inputs, weights, combine)])[0]

    def embed_queries(self, requests: Sequence[QueryRequest]) -> list[dict[str, QueryEmbedding]]:
        """Several queries: joint ones batched by modality set, weighted ones one by one."""
        for request in requests:
            self._check(request)
        out: list[dict[str, QueryEmbedding]] = [{} for _ in requests]
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, request in enumerate(requests):
            if request.joint:
                groups.setdefault(tuple(sorted(request.inputs)), []).append(i)
            else:
                out[i] = self._weighted(request)
        for names, members in groups.items():
            batch = {
                self.query_modalities[n].input: _stack([requests[i].inputs[n] for i in members])
                for n in names
            }
            found = self.bundle.embed_spaces({k: v.to(self.device) for k, v in batch.items()})
            for row, i in enumerate(members):
                out[i] = self._row(found, row)
        return out

    def _check(self, request: QueryRequest) -> None:
        """Refuse modalities the model does not take and weights for parts not given."""
        unknown = sorted(set(request.inputs) - set(self.query_modalities))
        if unknown or not request.inputs:
            raise ModelError(
                f"query modalities {unknown or '(none)'} are not accepted; this model takes: "
                f"{', '.join(self.query_modalities)}"
            )
        stray = sorted(set(request.weights or {}) - set(request.inputs))
        if stray:
            raise ModelError(f"weights for modalities not in the query: {stray}")

    def _weighted(self, request: QueryRequest) -> dict[str, QueryEmbedding]:
        """One weighted query, its parts combined the way it names."""
        from model.query_combination import WeightedPart, combine

        parts = [
            WeightedPart(
                {self.query_modalities[k].input: v.unsqueeze(0).to(self.device)},
                float((request.weights or {}).get(k, 1.0)),
            )
            for k, v in request.inputs.items()
        ]
        return self._row(combine(self.bundle, parts, request.combine), 0)

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
