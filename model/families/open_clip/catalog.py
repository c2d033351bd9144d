"""Named open_clip models ahead of time: ``anyseek models pull`` fetches one's files into the
model cache (checked, resumable), so a server can then load it with no network, and ``anyseek
models list`` says what the cache holds and what open_clip offers.

A name is what ``ANYSEEK_MODEL__SOURCE`` takes (the ``open_clip:`` prefix optional):
``ARCH/TAG`` needs open_clip's table of pretrained tags (the clip extra); ``hf-hub:ORG/NAME``
needs only huggingface_hub, so it can be pulled where open_clip is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anyseek.model.families import hub
from anyseek.model.families.interface import ModelError
from anyseek.model.families.open_clip.sources import (
    CARD_NAME,
    CONFIG_NAME,
    HUB,
    PREFIX,
    checkpoint_names,
    hub_parts,
    hub_repo,
    import_open_clip,
    pretrained_tag,
    unreachable,
    url_file,
)


@dataclass(frozen=True)
class PulledFile:
    """One file of a pulled model, where it is and how it got there."""

    name: str
    path: Path
    size: int
    how: str  # downloaded / checked (was cached, hashed again) / cached (not checkable)


@dataclass(frozen=True)
class Needs:
    """The files a named model needs from one hub repo: each entry lists alternatives, in order."""

    repo: str
    files: tuple[tuple[str, ...], ...]
    optional: tuple[str, ...] = (CARD_NAME,)


@dataclass(frozen=True)
class CachedRepo:
    """A hub repo in the model cache: the names it serves, its files, its size, partial pulls."""

    repo: str
    names: tuple[str, ...]  # the sources that load from it (what open_clip's tags point at)
    files: tuple[str, ...]
    size: int
    partial: int  # bytes of downloads that stopped before the end (a pull continues them)


def full_name(source: str) -> str:
    """A model name with its family prefix: ``open_clip:ARCH/TAG``."""
    text = source.strip()
    return text if text.startswith(PREFIX) else f"{PREFIX}{text}"


def needs(source: str) -> Needs | str:
    """What pulling ``source`` fetches: a hub repo's files, or a tag's download URL."""
    text = full_name(source).removeprefix(PREFIX)
    if not text:
        raise ModelError(f"name a model to pull, e.g. {PREFIX}ViT-B-32/laion2b_s34b_b79k")
    if text.startswith(HUB):
        return Needs(hub_repo(text), ((CONFIG_NAME,), checkpoint_names(None)))
    if Path(text).expanduser().exists():
        raise ModelError(f"{text!r} is a local path: it loads as it is, there is nothing to pull")
    arch, _, weights = text.partition("/")
    tag = pretrained_tag(arch, weights)
    if not tag.get("hf_hub"):
        return str(tag["url"])
    repo, filename = hub_parts(tag["hf_hub"])
    return Needs(repo, (checkpoint_names(filename or None),))


def pull_model(source: str, cache: Path, *, progress: bool = True) -> list[PulledFile]:
    """Every file the named model loads from, in ``cache``: the cached ones hashed again (one
    that no longer matches its hash is downloaded anew), the others downloaded with a progress
    bar, continued where an earlier pull stopped, and checked against the hub's size and hash."""
    name = full_name(source)
    plan = needs(name)
    if isinstance(plan, str):  # a tag served by URL (open_clip checks its sha256)
        path = url_file(plan, cache, name.removeprefix(PREFIX), name)
        return [PulledFile(path.name, path, path.stat().st_size, "downloaded")]
    pulled = []
    try:
        for alternatives in plan.files:
            found = hub.fetch(plan.repo, alternatives, cache, check=True, progress=progress)
            if found is None:
                raise ModelError(
                    f"the hub repo {plan.repo} has none of {', '.join(alternatives)}, which "
                    f"{name} needs ({hub.endpoint()}/{plan.repo})"
                )
            pulled.append(_pulled(found))
        pulled += [_pulled(f) for f in _optional(plan, cache, progress)]
    except hub.HubUnreachable as error:
        why = str(error)
        if why.startswith("the download of"):  # it had started: say where it stopped
            raise ModelError(why) from None
        raise ModelError(unreachable(name, plan.repo, cache, name, why)) from None
    return pulled


def _optional(plan: Needs, cache: Path, progress: bool) -> list[hub.HubFile]:
    """The plan's optional files (the model card, for its licence) the repo has; best effort."""
    found = []
    for name in plan.optional:
        try:
            found.append(hub.fetch(plan.repo, (name,), cache, check=True, progress=progress))
        except ModelError:  # the network went away after the weights: they are what matters
            continue
    return [f for f in found if f is not None]


def _pulled(found: hub.HubFile) -> PulledFile:
    """A fetched hub file as a pulled one."""
    return PulledFile(found.name, found.path, found.size, found.how)


def offered_models() -> list[str]:
    """Every ``open_clip:ARCH/TAG`` open_clip can download (a ModelError without the extra)."""
    open_clip = import_open_clip()
    return [f"{PREFIX}{arch}/{tag}" for arch, tag in open_clip.list_pretrained()]


def cached_models(cache: Path) -> list[CachedRepo]:
    """The hub repos in ``cache`` with the names that load from them (tags are named only where
    open_clip is installed: its table says which repo a tag reads)."""
    if not cache.is_dir():
        return []
    by_repo = _tag_repos()
    out = []
    for folder in sorted(cache.glob("models--*--*")):
        repo = folder.name.removeprefix("models--").replace("--", "/", 1)
        files = sorted({p.name for p in (folder / "snapshots").glob("*/*") if p.exists()})
        blobs = [p for p in (folder / "blobs").glob("*") if p.is_file()]
        done = sum(p.stat().st_size for p in blobs if p.suffix not in (".part", ".lock"))
        partial = sum(p.stat().st_size for p in blobs if p.suffix == ".part")
        names = [n for n, needed in by_repo.get(repo, []) if needed & set(files)]
        if CONFIG_NAME in files and set(checkpoint_names(None)) & set(files):
            names.append(f"{PREFIX}{HUB}{repo}")
        out.append(CachedRepo(repo, tuple(names), tuple(files), done, partial))
    return out


def _tag_repos() -> dict[str, list[tuple[str, set[str]]]]:
    """open_clip's tags by the hub repo they read, each with the checkpoint files that serve it
    (empty where open_clip is not installed)."""
    try:
        open_clip = import_open_clip()
    except ModelError:
        return {}
    found: dict[str, list[tuple[str, set[str]]]] = {}
    for arch, tag in open_clip.list_pretrained():
        where = open_clip.get_pretrained_cfg(arch, tag).get("hf_hub")
        if where:
            repo, filename = hub_parts(where)
            entry = (f"{PREFIX}{arch}/{tag}", set(checkpoint_names(filename or None)))
            found.setdefault(repo, []).append(entry)
    return found
