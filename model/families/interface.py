"""The model as the service sees it: gallery images and query files in, vectors per space out.

The indexer, search and the API talk to one small interface, :class:`SearchModel`, so they work
unchanged whichever model ``ANYSEEK_MODEL__SOURCE`` names (the built-in bundle today; official
4M-21 checkpoints and MultiMAE each add one adapter). A model declares:

* its **identity** (``name``, ``version``): vectors of different versions are not comparable;
* its **spaces**: short name (``clip``), the model output behind it and the vector dimension;
* its **query modalities**: short name (``sketch``) -> model input name and the transform that
  turns what a user has (a file, bytes, a PIL image, a string) into that input;
* ``embed_images``: gallery images -> one vector per space, from the rgb input in one pass;
  an indexed item whose only part is a photo is embedded by it (:func:`embed_items`);
* ``embed_query``: any subset of query inputs, each with a weight (negative: "not like this"),
  -> per space a vector and its information, combined jointly (one pass), by guidance or by
  fusion (``anyseek.model.families.combination``); the information is measured against ``priors``
  when given (a collection's own, see :class:`PriorModel`), else the model's own;
* its **class palette** when it reads segmentations in its own numbering (the built-in model
  knows the scene classes of ``scenes``, not COCO's).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from anyseek.errors import AnyseekError
from anyseek.model.queries import QUERY_KINDS, QueryKind
from anyseek.model.transforms.palette_semseg import ClassPalette
from anyseek.model.vocabulary.function_words import is_function_word

QueryTransform = Callable[[Any], torch.Tensor]
QueryWarnings = Callable[[Any], list[str]]  # a user value -> what the model will not read of it
MAX_CAPTION_CHARS = 2_000  # longer text is no caption; refused before tokenising
NUMPY_MAGIC = b"\x93NUMPY"
GALLERY_INPUT = "image"  # the query modality gallery photos are read and embedded through


@dataclass(frozen=True)
class SpaceInfo:
    """One embedding space a model produces: short name, the model output behind it, dim."""

    name: str  # short name used by stores, the API and reports, e.g. "clip"
    output: str  # the model's output modality, e.g. "tok_clip_global"
    dim: int
    metric: str = "cosine"


@dataclass(frozen=True)
class QueryModality:
    """One kind of query a model accepts: its declared name, model input and user-file transform.

    The name must be declared in :data:`anyseek.model.queries.QUERY_KINDS` (how people give
    it: a file, text or JSON; its page editor; its help), so every surface shows it the same way.
    """

    name: str  # e.g. "sketch"
    input: str  # e.g. "sketch@64"
    transform: QueryTransform  # user file / value -> the model input for ONE sample
    warnings: QueryWarnings | None = None  # what of a value the model drops ('unknown word "x"')

    def __post_init__(self) -> None:
        """Refuse a query modality nothing declares (it would have no field, option or editor)."""
        if self.name not in QUERY_KINDS:
            raise ModelError(
                f"query modality {self.name!r} is not declared: add its entry to "
                "anyseek.model.queries.QUERY_KINDS"
            )

    @property
    def kind(self) -> QueryKind:
        """How people give this query modality (file, text or JSON; editor; help)."""
        return QUERY_KINDS[self.name]


def in_declared_order(modalities: Iterable[QueryModality]) -> dict[str, QueryModality]:
    """Query modalities by name, in the order of their declarations (the gallery image last), so
    every model lists them the way the CLI, the API and the page do."""
    order = {name: i for i, name in enumerate(QUERY_KINDS)}
    return {q.name: q for q in sorted(modalities, key=lambda q: order[q.name])}


@dataclass(frozen=True)
class QueryRequest:
    """One query for :meth:`SearchModel.embed_queries`: inputs, weights and combination."""

    inputs: Mapping[str, torch.Tensor]
    weights: Mapping[str, float] | None = None
    combine: str = "fusion"
    priors: Mapping[str, torch.Tensor] | None = None  # {space: [N, V]}: the collection's priors

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
    """What the indexer and search need of any model (subclass it to inherit ``embed_query``)."""

    name: str
    version: str
    spaces: tuple[SpaceInfo, ...]
    query_modalities: Mapping[str, QueryModality]
    palette: ClassPalette | None  # classes of the segmentation input, when the model has one
    # how much each part of an indexed item of several counts (query modality -> weight); empty:
    # all alike, one joint pass (4M models); see :func:`item_request`
    item_weights: Mapping[str, float]
    precision: (
        str  # what gallery vectors are computed in: float32, bfloat16 (or the weights' dtype)
    )

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
        priors: Mapping[str, torch.Tensor] | None = None,
    ) -> dict[str, QueryEmbedding]:
        """Query inputs keyed by query-modality name (one sample each), with optional weights
        (default 1; negative = "not like this") -> per-space prediction. All weights 1: one
        joint pass; otherwise ``combine`` names how per-part predictions are combined.
        ``priors`` ({space: [N, V]}, e.g. a collection's) replace the model's own for this
        query only: the shared model is never changed by a request.

        A default for classes that subclass this protocol: one request through ``embed_queries``.
        """
        return self.embed_queries([QueryRequest(inputs, weights, combine, priors)])[0]

    def embed_queries(self, requests: Sequence[QueryRequest]) -> list[dict[str, QueryEmbedding]]:
        """Several queries at once (micro-batching): the joint ones with the same modalities
        share one encoder pass; the result of each is what ``embed_query`` gives it."""
        ...


def item_request(model: SearchModel, inputs: Mapping[str, torch.Tensor]) -> QueryRequest:
    """An indexed item of several parts as the one query the model embeds it as: every part at
    once, each weighted as the model's ``item_weights`` say (all 1 when it names none: one joint
    pass of a 4M encoder over every input)."""
    weights = {name: float(model.item_weights.get(name, 1.0)) for name in inputs}
    return QueryRequest(inputs, weights if set(weights.values()) != {1.0} else None)


def is_photo(inputs: Mapping[str, Any]) -> bool:
    """Whether an item's model inputs are one photo alone: the item the gallery pass embeds."""
    return set(inputs) == {GALLERY_INPUT}


def embed_items(
    model: SearchModel, items: Sequence[Mapping[str, torch.Tensor]], batch_size: int
) -> list[np.ndarray]:
    """Each indexed item's vector row (its model inputs by query modality -> every space of the
    model, float32, concatenated in space-name order, as the store's rows are laid out). The one
    place an item's path through the model is chosen: an item whose only part is a photo goes
    through the gallery pass (``embed_images``: every space in one pass, in the gallery's
    precision), any other is the one query of all its parts (:func:`item_request`); each kind
    in batches of ``batch_size``, in the items' order."""
    names = sorted(space.name for space in model.spaces)
    rows: dict[int, np.ndarray] = {}
    photos = [i for i, inputs in enumerate(items) if is_photo(inputs)]
    others = [i for i, inputs in enumerate(items) if not is_photo(inputs)]
    with torch.inference_mode():
        for start in range(0, len(photos), batch_size):
            batch = photos[start : start + batch_size]
            images = torch.stack([items[i][GALLERY_INPUT] for i in batch])
            vectors = model.embed_images(images)
            found = np.concatenate([vectors[name] for name in names], axis=1)
            rows.update(zip(batch, found, strict=True))
        for start in range(0, len(others), batch_size):
            batch = others[start : start + batch_size]
            answers = model.embed_queries([item_request(model, items[i]) for i in batch])
            for i, answer in zip(batch, answers, strict=True):
                rows[i] = np.concatenate([answer[name].vector for name in names]).astype(np.float32)
    return [rows[i] for i in range(len(items))]


@runtime_checkable
class FolderModel(Protocol):
    """A model loaded from a folder, which may also hold files fitted to it (``relevance.json``:
    the relevance calibration ``anyseek.search.relevance`` reads)."""

    folder: Path


@runtime_checkable
class PriorModel(Protocol):
    """A model whose space priors come from the collection it searches (official 4M models):
    the indexer estimates them from the collection's images and stores them with it."""

    def estimate_priors(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model-ready rgb [B, 3, S, S] -> {space: [N, V]} mean predicted token distribution."""
        ...

    def priors_to_bytes(self, priors: Mapping[str, torch.Tensor]) -> bytes:
        """Priors -> bytes to store with a collection."""
        ...

    def priors_from_bytes(self, data: bytes) -> dict[str, torch.Tensor]:
        """Stored bytes -> priors, checked against the model's spaces."""
        ...


@runtime_checkable
class DescribingModel(Protocol):
    """A model that can say what it "imagines" for a query (a generated caption)."""

    def describe(self, inputs: Mapping[str, torch.Tensor]) -> str:
        """Query inputs by query-modality name, one sample each -> a caption."""
        ...


RECONSTRUCTION_KINDS = ("depth", "semseg")  # what a reconstructing model predicts, in order


@runtime_checkable
class ReconstructingModel(Protocol):
    """A model that shows what it sees in an image: predicted depth and segmentation (MultiMAE)."""

    def reconstruction_pngs(self, images: torch.Tensor, size: int) -> list[dict[str, bytes]]:
        """Model-ready rgb [B, 3, S, S] -> per image {kind: PNG bytes} (``size`` px square) for
        each of ``RECONSTRUCTION_KINDS``; a ModelError when the checkpoint cannot predict them."""
        ...


def depth_input(transform: QueryTransform) -> QueryTransform:
    """A depth transform that also reads ``.npy`` content given as bytes (uploads)."""

    def read(source: Any) -> torch.Tensor:
        if isinstance(source, bytes | bytearray) and bytes(source[:6]) == NUMPY_MAGIC:
            from anyseek.model.transforms.base import UserInputError

            try:
                source = np.load(io.BytesIO(source), allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise UserInputError(f"depth data is not a readable .npy array ({exc})") from None
        return transform(source)

    return read


def checked_caption(caption: Any) -> str:
    """The caption stripped, refusing what is no caption: not text, empty, or over
    ``MAX_CAPTION_CHARS`` (checked before any tokenising)."""
    from anyseek.model.transforms.base import UserInputError

    if not isinstance(caption, str) or not caption.strip():
        raise UserInputError("the caption is empty: type a few words describing the image")
    if len(caption) > MAX_CAPTION_CHARS:
        raise UserInputError(
            f"the caption is {len(caption):,} characters long; at most {MAX_CAPTION_CHARS:,} "
            "are accepted (describe the image in a sentence or two)"
        )
    return caption.strip()


def caption_ids(text: Any, caption: str) -> torch.Tensor:
    """A caption string -> the WordPiece ids [L] the model reads (refusing empty text)."""
    return text.caption_batch([checked_caption(caption)]).ids[0]


def unknown_word_warnings(text: Any, caption: str, closed: bool = False) -> list[str]:
    """One warning per content word of ``caption`` the model's text tokenizer cannot read (see
    ``TextTokenizer.unknown_words``), so search reports it instead of dropping it silently;
    function words ("with", "near": ``anyseek.model.vocabulary.function_words``) are never
    reported."""
    if not isinstance(caption, str) or len(caption) > MAX_CAPTION_CHARS:
        return []  # no caption: its transform refuses it
    unknown = text.unknown_words(caption, closed=closed)
    return [f'unknown word "{_short(w)}"' for w in unknown if not is_function_word(w)]


def _short(word: str, most: int = 40) -> str:
    """A word as a message shows it: at most ``most`` characters."""
    return word if len(word) <= most else word[: most - 1] + "\u2026"


def weights_digest(paths: Sequence[Path]) -> str:
    """A short content hash of a model's weight files: the version of its vectors."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        with path.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of an ``ANYSEEK_MODEL__DTYPE`` name, or an error naming the choices."""
    if name not in DTYPES:
        raise ModelError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]
