"""Which model family serves ``ANYSEEK_MODEL__SOURCE``: one entry per family.

Each entry says how to recognise a source of its family and how to load it as a
:class:`anyseek.model.families.interface.SearchModel`; ``load_search_model`` tries them in order.
Adding a model family (official 4M-21 checkpoints, say) is one module with an adapter and one entry
here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from anyseek.errors import PATH_ERRORS, path_refused
from anyseek.model.families.builtin import is_builtin_bundle, load_builtin_search_model
from anyseek.model.families.fm_bundle.search import is_bundle, load_bundle_search_model
from anyseek.model.families.interface import ModelError, SearchModel
from anyseek.model.families.multimae.search import is_multimae_source, load_multimae_search_model
from anyseek.model.families.official import is_official_source, load_official_search_model
from anyseek.model.families.open_clip import is_open_clip_source, load_open_clip_search_model
from anyseek.settings import ModelSettings


@dataclass(frozen=True)
class ModelFamily:
    """A kind of checkpoint the service can search with."""

    name: str
    matches: Callable[[str], bool]  # does this source belong to the family?
    load: Callable[..., SearchModel]  # (source, *, device, dtype, precision, **opts) -> model
    # the family's own settings as extra keyword arguments of ``load``
    options: Callable[[ModelSettings], dict[str, Any]] = lambda settings: {}


FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily("builtin", is_builtin_bundle, load_builtin_search_model),  # its folders too
    ModelFamily("FM bundle", is_bundle, load_bundle_search_model),  # a 4M-format FM bundle
    ModelFamily("multimae", is_multimae_source, load_multimae_search_model),
    ModelFamily(
        "official 4M",
        is_official_source,
        load_official_search_model,
        lambda settings: {"tokenizers": settings.tokenizers},
    ),
    ModelFamily(  # open_clip:ARCH/TAG, open_clip:hf-hub:ID, a folder with open_clip_config.json
        "open_clip",
        is_open_clip_source,
        load_open_clip_search_model,
        lambda settings: {"cache": settings.cache},
    ),
)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA device is there, else ``cpu``; others as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"ANYSEEK_MODEL__DEVICE={device!r} but no CUDA device is available")
    return device


def load_search_model(
    source: str | ModelSettings = "builtin",
    *,
    device: str = "cpu",
    dtype: str = "float32",
    precision: str = "auto",
) -> SearchModel:
    """The search model behind ``ANYSEEK_MODEL__SOURCE``, by the first family that matches it.

    Given the ``ModelSettings`` (``ANYSEEK_MODEL__*``), their source, device, dtype and
    precision are used, and the family's own settings (the tokenizers folder of official
    checkpoints).
    """
    settings = source if isinstance(source, ModelSettings) else None
    if settings is not None:
        source, device, dtype = settings.source, settings.device, settings.dtype
        precision = settings.precision
    try:  # recognising a family probes the source as a path ("~user" is a RuntimeError)
        family = next((f for f in FAMILIES if f.matches(source)), None)
    except (*PATH_ERRORS, RuntimeError) as error:
        raise ModelError(path_refused("ANYSEEK_MODEL__SOURCE", source, error)) from None
    if family is not None:
        options = family.options(settings) if settings is not None else {}
        try:
            return family.load(
                source, device=resolve_device(device), dtype=dtype, precision=precision, **options
            )
        except OSError as error:  # a file of the source the OS refuses: unreadable, gone
            raise ModelError(path_refused("ANYSEEK_MODEL__SOURCE", source, error)) from None
    raise ModelError(
        f"ANYSEEK_MODEL__SOURCE={source!r} is not a model anyseek can search with: expected "
        f"'builtin', a model bundle folder (with bundle.json) or a "
        f"{' / '.join(f.name for f in FAMILIES[1:])} checkpoint"
    )
