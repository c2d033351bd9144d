"""A model bundle: the FM plus what turns queries into its inputs and its tokens into vectors.

The service needs more than the FM weights: the tokenizer of every global space (tokens ->
vectors) and the text tokenizer (caption -> ids). A bundle folder holds them in the official
layouts, plus ``bundle.json`` naming the parts::

    bundle.json          {"fm": "fm", "spaces": {...}, "text_tokenizer": ..., "decode": ...,
                          "priors": "priors.safetensors", "inputs": {...}, "palette": [...],
                          "space_names": {...}}
    fm/config.json, fm/model.safetensors                      (FourM, hub layout)
    tokenizers/<space>/config.json, .../model.safetensors     (MLP VQ-VAE, hub layout)
    text_tokenizer.json                                       (WordPiece, tokenizers JSON)
    priors.safetensors   optional: per space, the mean token distribution [N, V] the FM predicts
                         for typical images; fusion measures each query's information against it

``inputs``, ``palette`` and ``space_names`` say how user files become each input and what the
spaces are called (``anyseek.model.bundle.declarations``); a bundle without them gets the built-in
definition's. It is the 4M reimplementation's model as the service loads it
(``anyseek.model.fourm``:
the FM, its tokenizers, its one-pass prediction) with the input declarations every bundle has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from anyseek.errors import AnyseekError
from anyseek.model.bundle.declarations import (
    BundleDeclarations,
    DeclarationError,
    read_declarations,
)
from anyseek.model.bundle.definition import BUILTIN
from anyseek.model.bundle.files import BUNDLE_FILE, resolve_bundle_source
from anyseek.model.fourm.checkpoint import CheckpointError
from anyseek.model.fourm.inference.predict import (
    DECODE_MODES,
    SpaceEmbedding,
    predict_distributions,
    predict_embeddings,
)
from anyseek.model.fourm.network import FourM


class BundleError(AnyseekError):
    """A model bundle folder is missing a part or its parts do not fit together."""


@dataclass
class ModelBundle:
    """A loaded FM with its global-space tokenizers and text tokenizer."""

    fm: FourM
    spaces: dict[str, object]  # global modality name -> tokenizer with decode(tokens)
    text: object  # TextTokenizer
    path: Path
    decode: str = (
        "greedy"  # how token predictions become vectors (see model.fourm.inference.predict)
    )
    priors: dict[str, torch.Tensor] = field(default_factory=dict)  # space -> [N, V] float32
    declarations: BundleDeclarations | None = None  # input transforms, palette, space names

    @property
    def input_modalities(self) -> list[str]:
        """What queries and images may be given as (e.g. ``sketch@64``, ``caption``)."""
        return self.fm.input_modalities

    def modality(self, base: str) -> str:
        """The full input name of a base modality (``sketch`` -> ``sketch@64``)."""
        for name in self.fm.input_modalities:
            if name.split("@", 1)[0] == base:
                return name
        raise AnyseekError(
            f"the model at {self.path} takes no {base!r} input; it takes: "
            f"{', '.join(self.fm.input_modalities)}"
        )

    @torch.inference_mode()
    def embed(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """L2-normalised vectors [B, C] per global space from any subset of inputs."""
        return predict_embeddings(self.fm, inputs, self.spaces, self.decode)

    @torch.inference_mode()
    def embed_spaces(self, inputs: dict[str, torch.Tensor]) -> dict[str, SpaceEmbedding]:
        """Vectors per global space and how much each says about the inputs beyond the space's
        prior (what fusion weights by)."""
        from anyseek.model.fourm.inference.predict import predict_space_embeddings

        return predict_space_embeddings(self.fm, inputs, self.spaces, self.decode, self.priors)


@torch.inference_mode()
def estimate_priors(
    bundle: ModelBundle, images: torch.Tensor, batch_size: int = 256
) -> dict[str, torch.Tensor]:
    """Mean predicted token distribution [N, V] per space over ``images`` (model-ready rgb)."""
    rgb = bundle.modality(BUILTIN.image)
    totals: dict[str, torch.Tensor] = {}
    for start in range(0, len(images), batch_size):
        batch = {rgb: images[start : start + batch_size].to(bundle.fm.device)}
        for space, probs in predict_distributions(bundle.fm, batch, list(bundle.spaces)).items():
            totals[space] = totals.get(space, 0) + probs.sum(0).cpu()
    return {space: total / len(images) for space, total in totals.items()}


def _load_priors(path: Path, fm: FourM) -> dict[str, torch.Tensor]:
    """A bundle's priors file, checked against the FM's output spaces and their shapes."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        priors = {k: v.float() for k, v in load_file(str(path)).items()}
    except (OSError, SafetensorError) as exc:
        raise BundleError(f"{path}: unreadable priors ({exc})") from None
    for space, prior in priors.items():
        if space not in fm.output_modalities:
            raise BundleError(f"{path}: prior for {space!r}, which the FM does not predict")
        vocab = fm.decoder_embedding(space).to_logits.out_features
        shape = (fm.config.num_tokens(space), vocab)
        if tuple(prior.shape) != shape:
            raise BundleError(
                f"{path}: prior for {space!r} is {list(prior.shape)}, not {list(shape)}"
            )
    return priors


def _check_text_fits(text: object, fm: FourM, path: Path) -> None:
    """Every id the text tokenizer can emit must have a row in the FM's caption table."""
    if "caption" not in fm.input_modalities:
        return
    rows = fm.config.vocab_size("caption")
    if text.vocab_size > rows:
        raise BundleError(
            f"{path}: the text tokenizer has {text.vocab_size} ids, but the FM's caption table "
            f"has {rows} rows"
        )


def is_bundle(source: str | Path) -> bool:
    """Whether ``source`` names a bundle folder (``builtin`` or a folder with bundle.json)."""
    return (resolve_bundle_source(source) / BUNDLE_FILE).is_file()


def load_bundle(
    source: str | Path = "builtin", *, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> ModelBundle:
    """Load a bundle folder; every missing or corrupt part is named in the error.

    ``dtype`` is the FM's compute precision; the small global tokenizers stay in float32.
    """
    from anyseek.model.fourm.loading import load_fourm
    from anyseek.model.fourm.tokenizers import load_vq_tokenizer
    from anyseek.model.fourm.tokenizers.text import load_text_tokenizer

    root = resolve_bundle_source(source)
    manifest_path = root / BUNDLE_FILE
    if not manifest_path.is_file():
        raise BundleError(f"{root}: not a model bundle ({BUNDLE_FILE} is missing)")
    try:
        manifest = json.loads(manifest_path.read_text())
        fm_dir, spaces, text_file = manifest["fm"], manifest["spaces"], manifest["text_tokenizer"]
        decode = manifest.get("decode", "greedy")
        priors_file = manifest.get("priors")
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise BundleError(f"{manifest_path}: unreadable bundle manifest ({exc!r})") from None
    if decode not in DECODE_MODES:
        raise BundleError(
            f"{manifest_path}: decode {decode!r} is not one of {', '.join(DECODE_MODES)}"
        )
    fm = load_fourm(root / fm_dir, device=device, dtype=dtype)
    missing = sorted(set(fm.output_modalities) - set(spaces))
    if missing:
        raise BundleError(f"{manifest_path}: no tokenizer listed for the FM outputs {missing}")
    tokenizers = {}
    for name, folder in spaces.items():
        if name not in fm.output_modalities:
            raise BundleError(
                f"{manifest_path}: space {name!r} is not an output of {root / fm_dir}"
            )
        tok = load_vq_tokenizer(root / folder, device=device)
        vocab = fm.decoder_embedding(name).to_logits.out_features
        if tok.config.codebook_size != vocab:
            raise CheckpointError(
                f"{root / folder}: codebook of {tok.config.codebook_size} codes, but the FM "
                f"predicts {vocab} tokens for {name!r}"
            )
        tokenizers[name] = tok
    text = load_text_tokenizer(root / text_file)
    _check_text_fits(text, fm, root / text_file)
    priors = {}
    if priors_file is not None:
        priors = {k: v.to(device) for k, v in _load_priors(root / priors_file, fm).items()}
    try:
        declarations = read_declarations(manifest, fm.input_modalities, fm.output_modalities)
    except DeclarationError as exc:
        raise BundleError(f"{manifest_path}: {exc}") from None
    return ModelBundle(
        fm=fm,
        spaces=tokenizers,
        text=text,
        path=root,
        decode=decode,
        priors=priors,
        declarations=declarations,
    )
