"""The built-in model as files, and reading it back checked.

::

    bundle.json         {"family": "builtin", "space": "bind_global", "inputs": {...},
                         "palette": [...], "space_names": {"bind_global": "bind"}, ...}
    config.json         BuiltinConfig (model/builtin/configs/*.json)
    model.safetensors   the weights
    vocab.json          the caption words (model.builtin.text.WordVocab)

``bundle.json``'s ``inputs`` and ``palette`` are the same declarations an FM bundle makes
(``anyseek.model.bundle.declarations``): the service turns a user's file into exactly what training
fed. Its one space keeps the name ``bind`` (every modality bound to the image's vector): collections
store their vectors under it, so renaming it would orphan every index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from anyseek.model.builtin.network import CAPTION, BuiltinConfig, BuiltinModel
from anyseek.model.builtin.text import WordVocab
from anyseek.model.bundle.declarations import BundleDeclarations, declare, read_declarations
from anyseek.model.bundle.files import BUNDLE_FILE, resolve_bundle_source

FAMILY = "builtin"
FAMILIES_READ = (FAMILY, "bind")  # "bind": what bundles up to v9 were written as
SPACE = "bind_global"  # the one space's output name; its short name is "bind"


class BuiltinBundleError(ValueError):
    """A built-in model folder is missing a part or its parts do not fit together."""


@dataclass
class BuiltinBundle:
    """A loaded built-in model: network (eval mode), caption words and input declarations."""

    path: Path
    config: BuiltinConfig
    model: BuiltinModel
    vocab: WordVocab | None
    declarations: BundleDeclarations
    manifest: dict[str, Any]

    def input_name(self, base: str) -> str:
        """The declared input name of a base (``sketch`` -> ``sketch@64``; ``caption``)."""
        return base if base == CAPTION else f"{base}@{self.config.image_size}"


def input_names(config: BuiltinConfig) -> list[str]:
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


def is_builtin_bundle(source: str | Path) -> bool:
    """Whether ``source`` is a built-in model's folder (family ``builtin``, or ``bind`` as v1-v9
    wrote it)."""
    manifest = manifest_of(source)
    return isinstance(manifest, dict) and manifest.get("family") in FAMILIES_READ


def save_builtin_bundle(
    folder: Path,
    model: BuiltinModel,
    vocab: WordVocab | None,
    extra: dict[str, Any] | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Write ``model`` (float32 weights) and its declarations to ``folder``; ``settings``: the
    transform settings its recipe reads some inputs with (``declare``)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = model.config
    declarations = declare(input_names(config), [SPACE], settings=settings)
    manifest = {"family": FAMILY, "space": SPACE, **declarations.to_json(), **(extra or {})}
    (folder / "config.json").write_text(json.dumps(config.to_json(), indent=2) + "\n")
    state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    (folder / "model.safetensors").chmod(0o644)  # safetensors writes it private
    if vocab is not None:
        (folder / "vocab.json").write_text(json.dumps(vocab.to_json(), indent=1) + "\n")
    (folder / BUNDLE_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def load_builtin_bundle(source: str | Path, *, device: str = "cpu") -> BuiltinBundle:
    """Read a built-in model folder (float32 weights on ``device``; lower precision is autocast at
    run time, see ``anyseek.model.families.builtin``); a missing or mismatched part is a
    BuiltinBundleError naming the file."""
    path = resolve_bundle_source(source)
    manifest = manifest_of(path)
    if manifest is None or manifest.get("family") not in FAMILIES_READ:
        raise BuiltinBundleError(f"{path} has no built-in model {BUNDLE_FILE}")
    try:
        config = BuiltinConfig.from_json(json.loads((path / "config.json").read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise BuiltinBundleError(f"{path / 'config.json'}: unreadable config ({exc})") from None
    model = BuiltinModel(config)
    try:
        state = load_file(str(path / "model.safetensors"))
        model.load_state_dict(state)
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise BuiltinBundleError(
            f"{path / 'model.safetensors'}: weights do not fit config.json ({exc})"
        ) from None
    vocab = None
    if CAPTION in config.inputs:
        try:
            vocab = WordVocab.load(path / "vocab.json")
        except (OSError, ValueError, KeyError) as exc:
            raise BuiltinBundleError(f"{path / 'vocab.json'}: unreadable ({exc})") from None
        if len(vocab.words) + 2 > config.text_vocab or vocab.buckets != config.text_buckets:
            raise BuiltinBundleError(
                f"{path / 'vocab.json'} holds {len(vocab.words) + 2} word ids and "
                f"{vocab.buckets} trigram buckets; the model has {config.text_vocab} and "
                f"{config.text_buckets}"
            )
    try:
        declarations = read_declarations(manifest, input_names(config), [SPACE])
    except ValueError as exc:
        raise BuiltinBundleError(f"{path / BUNDLE_FILE}: {exc}") from None
    model = model.to(device=device).eval().requires_grad_(False)
    return BuiltinBundle(path, config, model, vocab, declarations, manifest)
