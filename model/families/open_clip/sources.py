"""Where an open_clip model's config and weights come from: offline first, every gap named.

``ANYSEEK_MODEL__SOURCE`` forms (the ``open_clip:`` prefix is optional for a local folder):

* ``open_clip:ARCH/TAG``: an architecture open_clip knows and one of its pretrained tags
  (``open_clip:ViT-B-32/laion2b_s34b_b79k``);
* ``open_clip:ARCH/FILE``: that architecture with a local checkpoint file;
* ``open_clip:hf-hub:ORG/NAME``: a Hugging Face repo holding ``open_clip_config.json``;
* a folder holding ``open_clip_config.json`` and a checkpoint, or a checkpoint file beside one.

Downloads (tags and hub ids) go once into ``ANYSEEK_MODEL__CACHE`` (default ``<data dir>/models``),
checked, through :mod:`anyseek.model.families.hub`; a later load reads them from there without the
network (``anyseek models pull`` fills it ahead of time: :mod:`.catalog`). With ``HF_HUB_OFFLINE=1``
or no network, a file that is not cached stops the load within seconds with one line saying so
and how to bring it, never a traceback.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anyseek.model.families import hub
from anyseek.model.families.interface import ModelError

log = logging.getLogger("anyseek.model.open_clip")

PREFIX = "open_clip:"
HUB = "hf-hub:"
CONFIG_NAME = "open_clip_config.json"
CARD_NAME = "README.md"  # the model card: its licence is shown at load
# open_clip's own order of preference for a folder's checkpoint (factory._find_checkpoint_in_dir)
CHECKPOINT_NAMES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
    "pytorch_model.pth",
    "model.pth",
)
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
MISSING_EXTRA = (
    "the open_clip model family needs open-clip-torch: pip install 'anyseek[clip]' (it brings "
    "torchvision, whose PyPI wheels need PyPI's default torch build; see the README)"
)


@dataclass(frozen=True)
class ClipSource:
    """An open_clip model resolved to local files: what to build and which weights to load."""

    name: str  # what identities and messages call it ("ViT-B-32/laion2b_s34b_b79k")
    weights: Path
    arch: str | None = None  # a built-in architecture, or None when ``config`` says it
    config: dict[str, Any] | None = None  # open_clip_config.json: model_cfg (+ preprocess_cfg)
    folder: Path | None = None  # the folder of the config (tokenizer files may be there)
    preprocess: dict[str, Any] = field(default_factory=dict)  # the tag's mean/std/interpolation
    quick_gelu: bool = False  # the tag was trained with QuickGELU
    licence: str | None = None


def import_open_clip() -> Any:
    """open_clip, or a ModelError naming the extra to install."""
    try:
        import open_clip
    except ImportError as error:  # also torchvision failing to import beside a CPU-only torch
        raise ModelError(f"{MISSING_EXTRA} ({error})") from None
    return open_clip


def is_open_clip_source(source: object) -> bool:
    """Whether ``source`` names an open_clip model (prefix, or a folder/file with its config)."""
    if not isinstance(source, str | Path):
        return False
    text = str(source)
    if text.startswith(PREFIX):
        return True
    path = Path(text).expanduser()
    if path.is_dir():
        return (path / CONFIG_NAME).is_file()
    return (
        path.is_file()
        and path.suffix in CHECKPOINT_SUFFIXES
        and (path.parent / CONFIG_NAME).is_file()
    )


def resolve(source: str, cache: Path | None) -> ClipSource:
    """The local files of an open_clip source, downloading a tag or hub id once into ``cache``."""
    text = str(source).removeprefix(PREFIX).strip()
    if not text:
        raise ModelError(f"{source!r}: name a model, e.g. {PREFIX}ViT-B-32/laion2b_s34b_b79k")
    if text.startswith(HUB):
        return _from_hub(text[len(HUB) :], cache, str(source))
    path = Path(text).expanduser()
    if path.exists():
        return _from_path(path)
    arch, _, weights = text.partition("/")
    return _from_arch(arch, weights, cache, str(source))


def _from_path(path: Path) -> ClipSource:
    """A folder with open_clip_config.json and a checkpoint, or a checkpoint beside the config."""
    folder = path if path.is_dir() else path.parent
    config = _read_config(folder / CONFIG_NAME)
    weights = path if path.is_file() else _checkpoint_in(folder)
    return ClipSource(path.name, weights, config=config, folder=folder)


def _read_config(path: Path) -> dict[str, Any]:
    """open_clip_config.json, checked for the ``model_cfg`` open_clip builds from."""
    if not path.is_file():
        raise ModelError(f"{path.parent}: no {CONFIG_NAME} (the model config open_clip builds)")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: not a readable JSON model config ({error})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_cfg"), dict):
        raise ModelError(f"{path}: has no 'model_cfg' object (open_clip's model config)")
    return config


def _checkpoint_in(folder: Path) -> Path:
    """The checkpoint open_clip would pick in a folder, or a ModelError naming the names."""
    for name in CHECKPOINT_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(p for p in folder.iterdir() if p.suffix in CHECKPOINT_SUFFIXES)
    if not found:
        raise ModelError(
            f"{folder}: holds {CONFIG_NAME} but no checkpoint (expected one of "
            f"{', '.join(CHECKPOINT_NAMES[:3])}, ...)"
        )
    return found[0]


def _from_arch(arch: str, weights: str, cache: Path | None, source: str) -> ClipSource:
    """ARCH/TAG or ARCH/FILE: open_clip's built-in config with a tag's or a file's weights."""
    path = Path(weights).expanduser() if weights else None
    if path is not None and path.is_file():
        check_arch(import_open_clip(), arch)
        return ClipSource(f"{arch}/{path.name}", path, arch=arch)
    tag = pretrained_tag(arch, weights)
    keys = ("mean", "std", "interpolation", "resize_mode")
    preprocess = {k: tag[k] for k in keys if tag.get(k) is not None}
    name = f"{arch}/{weights}"
    if tag.get("hf_hub"):
        repo, filename = hub_parts(tag["hf_hub"])
        local, fetched = hub_file(repo, checkpoint_names(filename or None), cache, name, source)
        licence = hub_licence(repo, cache, fetch=fetched)
    else:
        local, licence = url_file(tag["url"], cache, name, source), None
    return ClipSource(
        name,
        local,
        arch=arch,
        preprocess=preprocess,
        quick_gelu=bool(tag.get("quick_gelu")),
        licence=licence or tag.get("license"),
    )


def check_arch(open_clip: Any, arch: str) -> None:
    """A ModelError listing close names when open_clip knows no architecture ``arch``."""
    if arch not in open_clip.list_models():
        close = [m for m in open_clip.list_models() if m.lower().startswith(arch[:5].lower())]
        raise ModelError(
            f"open_clip knows no architecture {arch!r}"
            + (f" (close: {', '.join(close[:8])})" if close else "")
            + "; list them with: anyseek models list"
        )


def pretrained_tag(arch: str, weights: str) -> dict[str, Any]:
    """open_clip's record of the pretrained tag ``weights`` of ``arch`` (where its weights are,
    its preprocessing); a typo in either is a ModelError listing the valid ones."""
    open_clip = import_open_clip()
    check_arch(open_clip, arch)
    tags = open_clip.list_pretrained_tags_by_model(arch)
    if not weights:
        raise ModelError(
            f"{PREFIX}{arch} names no weights: add a pretrained tag or a checkpoint file, e.g. "
            f"{PREFIX}{arch}/{tags[0] if tags else 'PATH.safetensors'}"
        )
    if weights not in tags:
        raise ModelError(
            f"{weights!r} is neither a file nor a pretrained tag of {arch}; its tags: "
            f"{', '.join(tags) or 'none (give a checkpoint file)'}"
        )
    tag = open_clip.get_pretrained_cfg(arch, weights)
    if not tag.get("hf_hub") and not tag.get("url"):
        raise ModelError(f"open_clip's tag {arch}/{weights} says no place to download it from")
    return tag


def hub_parts(hub: str) -> tuple[str, str]:
    """A tag's ``hf_hub`` ('org/name/' or 'org/name/file.bin') -> (repo, filename or '')."""
    org, name, *rest = hub.split("/")
    return f"{org}/{name}", "/".join(rest)


def hub_repo(text: str) -> str:
    """The repo id of ``hf-hub:ORG/NAME``, checked."""
    repo = text.removeprefix(HUB)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise ModelError(f"{HUB}{repo!r} is not a Hugging Face repo id (ORG/NAME)")
    return repo


def _from_hub(repo: str, cache: Path | None, source: str) -> ClipSource:
    """hf-hub:ORG/NAME: its open_clip_config.json and weights, from the cache or downloaded."""
    repo = hub_repo(repo)
    config_path, _ = hub_file(repo, (CONFIG_NAME,), cache, f"{HUB}{repo}", source)
    config = _read_config(config_path)
    weights, fetched = hub_file(repo, checkpoint_names(None), cache, f"{HUB}{repo}", source)
    return ClipSource(
        f"{HUB}{repo}",
        weights,
        config=config,
        folder=config_path.parent,
        licence=hub_licence(repo, cache, fetch=fetched),
    )


def checkpoint_names(filename: str | None) -> tuple[str, ...]:
    """The files to try for a hub checkpoint: safetensors first, as open_clip does. ``None``:
    an hf-hub repo's own checkpoint."""
    if filename is None:
        return ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    if filename.endswith(".safetensors"):
        return (filename,)
    safe = ("open_clip_model.safetensors",) if filename == "open_clip_pytorch_model.bin" else ()
    return (*safe, f"{filename.rsplit('.', 1)[0]}.safetensors", filename)


def model_cache(cache: Path | None) -> Path:
    """Where hub downloads go: ``cache``, or huggingface_hub's own cache when none is set."""
    from huggingface_hub import constants

    return cache if cache is not None else Path(constants.HF_HUB_CACHE)


def hub_file(
    repo: str, names: tuple[str, ...], cache: Path | None, what: str, source: str
) -> tuple[Path, bool]:
    """The first of ``names`` in ``repo`` and whether it was downloaded now: from the cache, else
    downloaded into it once (checked). Not there and not downloadable: a ModelError saying why
    (the hub cannot be reached, or the repo has none of them) and how to bring the files."""
    folder = model_cache(cache)
    try:
        found = hub.fetch(repo, names, folder, progress=None)
    except hub.HubUnreachable as error:
        raise ModelError(unreachable(what, repo, folder, source, str(error))) from None
    if found is None:
        raise ModelError(
            f"the hub repo {repo} has none of {', '.join(names)}, which {what} needs "
            f"({hub.endpoint()}/{repo})"
        )
    return found.path, found.how == "downloaded"


def unreachable(what: str, repo: str, cache: Path, source: str, why: str) -> str:
    """What a load says when files it needs are neither cached nor downloadable."""
    reach = (
        "HF_HUB_OFFLINE is set"
        if why.startswith("HF_HUB_OFFLINE")
        else f"the Hugging Face hub at {hub.endpoint()} cannot be reached, no network? ({why})"
    )
    name = source if source.startswith(PREFIX) else f"{PREFIX}{source}"
    return (
        f"cannot download the weights of {what}: {reach}; and they are not in the model cache "
        f"{cache}. Bring them: run `anyseek models pull {name}` on a machine with network "
        f"(with ANYSEEK_MODEL__CACHE={cache}, or copy its model cache here), or give a local "
        f"folder holding {CONFIG_NAME} and the checkpoint ({hub.endpoint()}/{repo})"
    )


def hub_licence(repo: str, cache: Path | None, fetch: bool) -> str | None:
    """The ``license:`` a hub repo's model card declares, from the cache, or fetched with it when
    ``fetch`` (the weights were downloaded now: a later load never waits on the network for it).
    Best effort: the licence is shown, never required."""
    folder = model_cache(cache)
    path = hub.cached(repo, CARD_NAME, folder)
    if path is None and fetch:
        try:
            found = hub.fetch(repo, (CARD_NAME,), folder)
        except ModelError:  # the network went away: no licence to show
            found = None
        path = found.path if found is not None else None
    return card_licence(path.read_text(errors="replace")) if path is not None else None


def card_licence(card: str) -> str | None:
    """The ``license:`` of a model card's YAML front matter."""
    head = card.split("---", 2)[1] if card.startswith("---") else ""
    found = re.search(r"^license:\s*['\"]?([^'\"\n]+)", head, re.MULTILINE)
    return found[1].strip() if found else None


def url_file(url: str, cache: Path | None, what: str, source: str | None = None) -> Path:
    """A tag's weights by URL: ``cache/<file name>`` when there, else downloaded into it once by
    open_clip (which checks the sha256 the URL names, where it names one)."""
    open_clip = import_open_clip()
    folder = cache or Path.home() / ".cache" / "clip"
    target = folder / url.rsplit("/", 1)[-1]
    if target.is_file():
        return target
    if hub.offline():
        why = "HF_HUB_OFFLINE is set"
    else:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return Path(open_clip.pretrained.download_pretrained_from_url(url, str(folder)))
        except Exception as error:  # no network or a bad download: said below
            why = f"{type(error).__name__}: {hub.first_line(error)}"
    name = source if source is None or source.startswith(PREFIX) else f"{PREFIX}{source}"
    pull = f"run `anyseek models pull {name}` where there is network, or " if name else ""
    raise ModelError(
        f"the weights of {what} are not in the model cache and could not be downloaded ({why}): "
        f"{pull}fetch {url} and put it at {target}"
    )
