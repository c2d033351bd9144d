"""Where an official 4M checkpoint and its tokenizers come from, and the notice its licence needs.

``ANYSEEK_MODEL__SOURCE`` names the FM (a ``.safetensors`` file, a folder, or a repo id such as
``EPFL-VILAB/4M-21_B``); ``ANYSEEK_MODEL__TOKENIZERS`` names a folder holding one checkpoint
folder per tokenizer, named like its Hugging Face repo (``4M_tokenizers_depth_8k_224-448`` or
``EPFL-VILAB/4M_tokenizers_depth_8k_224-448``). Unset, tokenizers are fetched by repo id.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

from anyseek.model.fourm.checkpoint import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    resolve_source,
)
from anyseek.model.fourm.modalities import REGISTRY

log = logging.getLogger("anyseek.model.official")

OFFICIAL_REPO = re.compile(r"^EPFL-VILAB/4M-[\w.-]+$")  # FMs; tokenizers are 4M_tokenizers_*
LICENCE_NOTICE = (
    "The official 4M / 4M-21 weights (EPFL-VILAB on Hugging Face) are released by EPFL and Apple "
    "under the Sample Code License (LICENSE_WEIGHTS of apple/ml-4m): NON-COMMERCIAL use only. "
    "anyseek's own code is not bound by it; your use of these weights is."
)
_NOTICE_SHOWN: list[bool] = []  # one entry once the notice was given in this process


def notice_licence() -> bool:
    """Log (and print) the non-commercial licence of the official weights, once per process;
    returns whether it was given now."""
    if _NOTICE_SHOWN:
        return False
    _NOTICE_SHOWN.append(True)
    log.info(LICENCE_NOTICE)
    print(f"anyseek: {LICENCE_NOTICE}", file=sys.stderr, flush=True)
    return True


def tokenizer_repo(modality: str) -> str:
    """Hugging Face repo id of the official tokenizer of an FM modality (``tok_depth@224``)."""
    spec = REGISTRY.get(modality.split("@", 1)[0])
    if spec is None or spec.tokenizer is None:
        raise CheckpointError(f"no official tokenizer is known for {modality!r}")
    return spec.tokenizer


def find_tokenizer(repo_id: str, root: str | Path | None) -> str | Path:
    """The checkpoint source of a tokenizer: its folder under ``root``, or the repo id when no
    root is set (fetched from the hub). Raises :class:`CheckpointError` when it is not there."""
    if root is None:
        return repo_id
    base = Path(root).expanduser()
    name = repo_id.split("/", 1)[1]
    for folder in (base / repo_id, base / name, base / repo_id.replace("/", "--")):
        if (folder / WEIGHTS_NAME).is_file():
            return folder
    raise CheckpointError(f"{repo_id} is not in {base} (expected {base / name}/{WEIGHTS_NAME})")


def is_official_source(source: object) -> bool:
    """Whether ``source`` names an official-format 4M checkpoint (file, folder or repo id)."""
    if not isinstance(source, str | Path):
        return False
    text = str(source)
    path = Path(text).expanduser()
    if not path.exists():
        return bool(OFFICIAL_REPO.match(text))
    if (path / "bundle.json").is_file():
        return False
    try:
        weights, config = resolve_source(path)
    except CheckpointError:
        return False
    if config is not None:
        try:
            return "domains_in" in json.loads(config.read_text())
        except (OSError, ValueError):
            return False
    return _metadata_has_domains(weights)


def _metadata_has_domains(weights: Path) -> bool:
    """Whether a .safetensors file carries an FM config (``domains_in``) in its metadata."""
    if weights.suffix != ".safetensors":
        return False
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="pt") as handle:
            return "domains_in" in (handle.metadata() or {})
    except (OSError, ValueError, RuntimeError, SafetensorError):
        return False


__all__ = [
    "CONFIG_NAME",
    "LICENCE_NOTICE",
    "find_tokenizer",
    "is_official_source",
    "notice_licence",
    "tokenizer_repo",
]
