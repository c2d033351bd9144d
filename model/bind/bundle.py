"""A bound model as files, and reading it back checked.

::

    bundle.json         {"family": "bind", "space": "bind_global", "inputs": {...},
                         "palette": [...], "space_names": {"bind_global": "bind"}, ...}
    config.json         BindConfig (model/bind/configs/*.json)
    model.safetensors   the weights
    vocab.json          the caption words (model.bind.text.WordVocab)

``bundle.json``'s ``inputs`` and ``palette`` are the same declarations an FM bundle makes
(``model.bundle.declarations``): the service turns a user's file into exactly what training fed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from model.bind.network import CAPTION, BindConfig, BindModel
from model.bind.text import WordVocab
from model.bundle.declarations import BundleDeclarations, declare, read_declarations
from model.bundle.loading import BUNDLE_FILE, resolve_bundle_source

FAMILY = "bind"
SPACE = "bind_global"  # the one space's output name; its short name is "bind"


class BindBundleError(ValueError):
    """A bound-model folder is missing a part or its parts do not fit together."""


@dataclass
class BindBundle:
    """A loaded bound model: network (eval mode), caption words and input declarations."""

    path: Path
    config: BindConfig
    model: BindModel
    vocab: WordVocab | None
    declarations: BundleDeclarations
    manifest: dict[str, Any]

    def input_name(self, base: str) -> str:
        """The declared input name of a base (``sketch`` -> ``sketch@64``; ``caption``)."""
        return base if base == CAPTION else f"{base}@{self.config.image_size}"


def input_names(config: BindConfig) -> list[str]:
    """Declared input names: pixel inputs at the model's resolution, the caption last."""
    size = config.image_size
    return [i if i == CAPTION else f"{i}@{size}" for i in config.inputs]


def manifest_of(source: str | Path) -> dict[str, Any] | None:
    """The ``bundle.json`` of a folder (``builtin`` included), or None when there is none."""
    path = resolve_bundle_source(source) / BUNDLE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_bind_bundle(source: str | Path) -> bool:
    """Whether ``source`` is a folder holding a bound model (``"family": "bind"``)."""
    manifest = manifest_of(source)
    return isinstance(manifest, dict) and manifest.get("family") == FAMILY


def save_bind_bundle(
    folder: Path,
    model: BindModel,
    vocab: WordVocab | None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (float32 weights) and its declarations to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    config = model.config
    declarations = declare(input_names(config), [SPACE])
    manifest = {"family": FAMILY, "space": SPACE, **declarations.to_json(), **(extra or {})}
    (folder / "config.json").write_text(json.dumps(config.to_json(), indent=2) + "\n")
    state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    (folder / "model.safetensors").chmod(0o644)  # safetensors writes it private
    if vocab is not None:
        (folder / "vocab.json").write_text(json.dumps(vocab.to_json(), indent=1) + "\n")
    (folder / BUNDLE_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def load_bind_bundle(source: str | Path, *, device: str = "cpu") -> BindBundle:
    """Read a bound-model folder (float32 weights on ``device``; lower precision is autocast at
    run time, see ``model.families.bind``); a missing or mismatched part is a BindBundleError
    naming the file."""
    path = resolve_bundle_source(source)
    manifest = manifest_of(path)
    if manifest is None or manifest.get("family") != FAMILY:
        raise BindBundleError(f"{path} has no bound-model {BUNDLE_FILE}")
    try:
        config = BindConfig.from_json(json.loads((path / "config.json").read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise BindBundleError(f"{path / 'config.json'}: unreadable config ({exc})") from None
    model = BindModel(config)
    try:
        state = load_file(str(path / "model.safetensors"))
        model.load_state_dict(state)
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise BindBundleError(
            f"{path / 'model.safetensors'}: weights do not fit config.json ({exc})"
        ) from None
    vocab = None
    if CAPTION in config.inputs:
        try:
            vocab = WordVocab.load(path / "vocab.json")
        except (OSError, ValueError, KeyError) as exc:
            raise BindBundleError(f"{path / 'vocab.json'}: unreadable ({exc})") from None
        if len(vocab.words) + 2 > config.text_vocab or vocab.buckets != config.text_buckets:
            raise BindBundleError(
                f"{path / 'vocab.json'} holds {len(vocab.words) + 2} word ids and "
                f"{vocab.buckets} trigram buckets; the model has {config.text_vocab} and "
                f"{config.text_buckets}"
            )
    try:
        declarations = read_declarations(manifest, input_names(config), [SPACE])
    except ValueError as exc:
        raise BindBundleError(f"{path / BUNDLE_FILE}: {exc}") from None
    model = model.to(device=device).eval().requires_grad_(False)
    return BindBundle(path, config, model, vocab, declarations, manifest)
