"""An official 4M / 4M-21 checkpoint with its tokenizers behind the :class:`SearchModel` interface.

Spaces are the global embeddings the FM predicts, decoded by their tokenizers: ``dinov2``
(``tok_dinov2_global``), ``imagebind`` (``tok_imagebind_global``) and ``clip`` (the ``tok_clip``
feature map, mean-pooled, so 4M-7 models without global tokens can search too). Gallery images
are embedded from rgb in one encoder and one decoder pass for every space. Queries are whatever
the FM takes among :data:`QUERY_SPECS`: pixel and tokenized inputs read from user files, captions,
and the structured 4M-21 inputs (``anyseek.model.families.official.structured``). The query
batching, weighting and combination are the built-in bundle's
(:class:`anyseek.model.families.fm_bundle.search.BundleSearchModel`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from anyseek.model.families.fm_bundle.loading import ModelBundle
from anyseek.model.families.fm_bundle.loading import estimate_priors as bundle_priors
from anyseek.model.families.fm_bundle.search import BundleSearchModel, _stack
from anyseek.model.families.interface import (
    ModelError,
    QueryModality,
    QueryRequest,
    QueryTransform,
    SpaceInfo,
    caption_ids,
    depth_input,
    unknown_word_warnings,
)
from anyseek.model.transforms.base import UserInputError

from .priors import priors_from_bytes, priors_to_bytes
from .structured import STRUCTURED_INPUTS


@dataclass(frozen=True)
class SpaceSpec:
    """One searchable space: short name, the FM output (base name) and whether it is a grid."""

    name: str
    output: str
    pooled: bool = False  # a feature-map tokenizer: decode the grid, then mean-pool it


SPACE_SPECS: tuple[SpaceSpec, ...] = (
    SpaceSpec("dinov2", "tok_dinov2_global"),
    SpaceSpec("imagebind", "tok_imagebind_global"),
    SpaceSpec("clip", "tok_clip", pooled=True),
)


@dataclass(frozen=True)
class QuerySpec:
    """One query modality: public name, FM input (base name) and how a user value is read.

    ``kind``: ``pixels`` (a transform straight to the model input), ``tokens`` (a transform, then
    the modality's tokenizer), ``caption`` or ``structured`` (text over the WordPiece vocabulary).
    ``reader`` names the user-file transform of ``anyseek.model.transforms`` for pixels and tokens.
    """

    name: str
    base: str
    kind: str
    reader: str | None = None


QUERY_SPECS: tuple[QuerySpec, ...] = (
    QuerySpec("caption", "caption", "caption"),
    QuerySpec("image", "rgb", "pixels", "rgb"),
    QuerySpec("depth", "tok_depth", "tokens", "depth"),
    QuerySpec("semseg", "tok_semseg", "tokens", "semseg"),
    QuerySpec("sketch", "tok_canny_edge", "tokens", "sketch"),
    QuerySpec("edges", "tok_canny_edge", "tokens", "edges"),
    QuerySpec("sam_edges", "tok_sam_edge", "tokens", "edges"),
    QuerySpec("normal", "tok_normal", "tokens", "normal"),
    *(QuerySpec(name, name, "structured") for name in STRUCTURED_INPUTS),
)


@dataclass(frozen=True)
class PooledDecoder:
    """A feature-map tokenizer as a vector decoder: tokens [B, N] -> mean of the map [B, C]."""

    tokenizer: Any

    def decode(self, tokens: Tensor) -> Tensor:
        """Decode the token grid to a feature map [B, C, h, w] and average it over positions."""
        return self.tokenizer.decode(tokens).float().mean((-2, -1))


@dataclass(frozen=True)
class TokenizedTransform:
    """A user file -> its model-ready tensor -> the tokenizer's tokens [N] (one sample)."""

    read: QueryTransform
    tokenizer: Any

    @torch.inference_mode()
    def __call__(self, source: Any) -> Tensor:
        x = self.read(source)
        device = next(self.tokenizer.parameters()).device
        return self.tokenizer.encode(x[None].to(device))[0].cpu()


@dataclass(frozen=True)
class TextTransform:
    """A caption or a structured value -> WordPiece ids with [EOS] [L] (the model's sequence)."""

    text: Any  # TextTokenizer
    modality: str
    max_length: int
    serialize: Callable[[Any], str] | None = None  # None: the value is a caption

    def __call__(self, value: Any) -> Tensor:
        if self.serialize is None:
            return caption_ids(self.text, value)
        ids = [*self.text.encode(self.serialize(value)), self.text.eos_id]
        if len(ids) > self.max_length:
            raise UserInputError(
                f"{self.modality}: the value is {len(ids)} tokens long once written out; the "
                f"model reads at most {self.max_length} (give fewer entries)"
            )
        return torch.tensor(ids, dtype=torch.long)


class OfficialSearchModel(BundleSearchModel):
    """An official-format FM with its tokenizers as a search model."""

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        name: str,
        version: str,
        query_modalities: dict[str, QueryModality],
        space_names: Mapping[str, str],
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self.bundle = bundle
        self.name = name
        self.version = version
        path = Path(bundle.path)  # the FM's weights file: files fitted to it sit beside it
        self.folder = path.parent if path.is_file() else path
        self.device = bundle.fm.device
        self.palette = None  # segmentations in the COCO numbering and palette
        self.use_query_modalities(query_modalities.values(), "this 4M checkpoint")
        self.unavailable = dict(unavailable or {})  # query name -> tokenizer repo id it lacks
        self.spaces = tuple(
            SpaceInfo(space_names[out], out, _decoded_dim(bundle, out)) for out in bundle.spaces
        )

    # ----------------------------------------------------------------------------- priors

    @property
    def priors(self) -> dict[str, Tensor]:
        """The prior [N, V] of each space that has one, by short space name."""
        return {
            s.name: self.bundle.priors[s.output]
            for s in self.spaces
            if s.output in self.bundle.priors
        }

    def estimate_priors(self, images: Tensor, batch_size: int = 64) -> dict[str, Tensor]:
        """Mean predicted token distribution [N, V] per space over model-ready rgb [B, 3, S, S]
        (a collection's own images): what the space predicts for a typical image of it."""
        if images.ndim != 4 or len(images) == 0:
            raise ModelError("estimate_priors needs a non-empty batch of rgb images [B, 3, S, S]")
        found = bundle_priors(self.bundle, images, batch_size)
        return {s.name: found[s.output] for s in self.spaces}

    def set_priors(self, priors: Mapping[str, Tensor]) -> None:
        """Use these priors (by short space name, e.g. from :meth:`estimate_priors` or a
        collection's stored ones) for the information of every later query. The service passes
        a collection's priors per query instead (``embed_query(..., priors=)``)."""
        by_output = {s.name: s.output for s in self.spaces}
        self.bundle.priors = {by_output[k]: v for k, v in self.check_priors(priors).items()}

    def check_priors(self, priors: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Priors by short space name, checked against the spaces' shapes, float32 on the CPU."""
        by_name = {s.name: s for s in self.spaces}
        checked = {}
        for name, prior in priors.items():
            if name not in by_name:
                raise ModelError(f"prior for unknown space {name!r}; spaces: {list(by_name)}")
            output = by_name[name].output
            vocab = self.bundle.fm.decoder_embedding(output).to_logits.out_features
            shape = (self.bundle.fm.config.num_tokens(output), vocab)
            if tuple(prior.shape) != shape:
                raise ModelError(f"prior for {name!r} is {list(prior.shape)}, not {list(shape)}")
            checked[name] = prior.detach().float().cpu()
        return checked

    def priors_to_bytes(self, priors: Mapping[str, Tensor]) -> bytes:
        """Priors (by space name) -> safetensors bytes, to store with a collection."""
        return priors_to_bytes(self.check_priors(priors))

    def priors_from_bytes(self, data: bytes) -> dict[str, Tensor]:
        """Stored bytes -> priors by space name, checked against this model's spaces."""
        return self.check_priors(priors_from_bytes(data))

    # ----------------------------------------------------------------------------- explain

    @torch.inference_mode()
    def describe(self, inputs: Mapping[str, Tensor], max_tokens: int = 48) -> str:
        """What the model "imagines" for query inputs (by query name, one sample each): a caption
        generated greedily (temperature 0, deterministic) by the model's own sampler. A caption
        among the inputs is what the user said already: the others condition the generation,
        and a caption alone is returned as it is."""
        from anyseek.model.fourm.inference.sampling import GenerationTarget, generate

        if "caption" not in self.bundle.fm.output_modalities:
            raise ModelError("this 4M checkpoint cannot generate captions")
        self.check_request(QueryRequest(inputs))
        given = {k: v for k, v in inputs.items() if k != "caption"}
        if not given:  # only a caption: that is what the query says
            return self.bundle.text.decode(inputs["caption"])
        batch = {
            self.query_modalities[k].input: _stack([v]).to(self.device) for k, v in given.items()
        }
        target = GenerationTarget("caption", num_tokens=max_tokens, temperature=0.0)
        out = generate(self.bundle.fm, batch, [target], seed=0)["caption"]
        length = int((~out.input_mask[0]).sum())
        return self.bundle.text.decode(out.tensor[0, :length].cpu()).strip()

    # ----------------------------------------------------------------------------- checks

    def check_request(self, request: Any) -> None:
        """As every model's, first naming the tokenizer a known but unusable modality lacks."""
        lacking = sorted(set(request.inputs) & set(self.unavailable))
        if lacking:
            raise ModelError(
                "this model takes "
                + ", ".join(f"{q} only with its tokenizer {self.unavailable[q]}" for q in lacking)
                + ", which is not in ANYSEEK_MODEL__TOKENIZERS: download it there"
            )
        super().check_request(request)


def _decoded_dim(bundle: ModelBundle, output: str) -> int:
    """Vector dimension of a space: decode one all-zero token prediction."""
    n = bundle.fm.config.num_tokens(output)
    decoder = bundle.spaces[output]
    return int(decoder.decode(torch.zeros(1, n, dtype=torch.long)).shape[-1])


def input_name(fm_inputs: list[str], base: str) -> str | None:
    """The FM's input name of a base modality (``tok_depth`` -> ``tok_depth@224``), if it has it."""
    for name in fm_inputs:
        if name.split("@", 1)[0] == base:
            return name
    return None


def resolution(name: str, default: int) -> int:
    """The @RES of an input name (``tok_depth@224`` -> 224)."""
    _, _, res = name.partition("@")
    return int(res) if res else default


def build_query_modality(
    spec: QuerySpec, name: str, text: Any, tokenizer: Any, image_size: int
) -> QueryModality:
    """The :class:`QueryModality` of one spec for an FM input ``name``."""
    from anyseek.model.fourm.modalities import get_modality
    from anyseek.model.transforms import transform_for

    if spec.kind in ("caption", "structured"):
        structured = STRUCTURED_INPUTS.get(spec.base)
        serialize = structured.serialize if structured else None
        transform: QueryTransform = TextTransform(
            text, spec.name, get_modality(name).max_length, serialize
        )
        warnings = None if structured else partial(unknown_word_warnings, text)  # [UNK] only
        return QueryModality(spec.name, name, transform, warnings)
    read = transform_for(spec.reader, resolution(name, image_size))
    if spec.reader == "depth":
        read = depth_input(read)
    if spec.kind == "tokens":
        read = TokenizedTransform(read, tokenizer)
    return QueryModality(spec.name, name, read)
