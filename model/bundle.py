"""A model bundle: the FM plus what turns queries into its inputs and its tokens into vectors.

The service needs more than the FM weights: the tokenizer of every global space (tokens ->
vectors) and the text tokenizer (caption -> ids). A bundle folder holds them in the official
layouts, plus ``bundle.json`` naming the parts::

    bundle.json          {"fm": "fm", "spaces": {...}, "text_tokenizer": ..., "decode": ...}
    fm/config.json, fm/model.safetensors                      (FourM, hub layout)
    tokenizers/<space>/config.json, .../model.safetensors     (MLP VQ-VAE, hub layout)
    text_tokenizer.json                                       (WordPiece, tokenizers JSON)

``resolve_bundle_source("builtin")`` is the committed default model under ``model/builtin/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from anyseek.errors import AnyseekError
from model.checkpoint import CheckpointError
from model.fourm import FourM
from model.predict import DECODE_MODES, SpaceEmbedding

BUILTIN_DIR = Path(__file__).with_name("builtin")
BUNDLE_FILE = "bundle.json"


class BundleError(AnyseekError):
    """A model bundle folder is missing a part or its parts do not fit together."""


@dataclass
class ModelBundle:
    """A loaded FM with its global-space tokenizers and text tokenizer."""

    fm: FourM
    spaces: dict[str, object]  # global modality name -> tokenizer with decode(tokens)
    text: object  # TextTokenizer
    path: Path
    decode: str = "greedy"  # how token predictions become vectors (see model.predict)

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
        return self.fm.predict_embeddings(inputs, self.spaces, self.decode)

    @torch.inference_mode()
    def embed_with_confidence(self, inputs: dict[str, torch.Tensor]) -> dict[str, SpaceEmbedding]:
        """Vectors and the model's confidence per global space (what fusion weights by)."""
        from model.predict import predict_space_embeddings

        return predict_space_embeddings(self.fm, inputs, self.spaces, self.decode)


def resolve_bundle_source(source: str | Path) -> Path:
    """``builtin`` -> the committed default bundle; otherwise the given folder."""
    return BUILTIN_DIR if str(source) == "builtin" else Path(source).expanduser()


def is_bundle(source: str | Path) -> bool:
    """Whether ``source`` names a bundle folder (``builtin`` or a folder with bundle.json)."""
    return (resolve_bundle_source(source) / BUNDLE_FILE).is_file()


def load_bundle(source: str | Path = "builtin", *, device: str = "cpu") -> ModelBundle:
    """Load a bundle folder; every missing or corrupt part is named in the error."""
    from model.loading import load_fourm
    from model.tokenizers import load_vq_tokenizer
    from model.tokenizers.text import load_text_tokenizer

    root = resolve_bundle_source(source)
    manifest_path = root / BUNDLE_FILE
    if not manifest_path.is_file():
        raise BundleError(f"{root}: not a model bundle ({BUNDLE_FILE} is missing)")
    try:
        manifest = json.loads(manifest_path.read_text())
        fm_dir, spaces, text_file = manifest["fm"], manifest["spaces"], manifest["text_tokenizer"]
        decode = manifest.get("decode", "greedy")
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise BundleError(f"{manifest_path}: unreadable bundle manifest ({exc!r})") from None
    if decode not in DECODE_MODES:
        raise BundleError(
            f"{manifest_path}: decode {decode!r} is not one of {', '.join(DECODE_MODES)}"
        )
    fm = load_fourm(root / fm_dir, device=device)
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
    return ModelBundle(fm=fm, spaces=tokenizers, text=text, path=root, decode=decode)
