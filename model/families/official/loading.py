"""``load_official_search_model``: an official FM plus the tokenizers it needs, every gap named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anyseek.model.families.fm_bundle.loading import ModelBundle
from anyseek.model.families.interface import ModelError, torch_dtype, weights_digest
from anyseek.model.fourm.checkpoint import CheckpointError, resolve_source
from anyseek.model.fourm.tokenizers.errors import TokenizerError

from .search import (
    QUERY_SPECS,
    SPACE_SPECS,
    OfficialSearchModel,
    PooledDecoder,
    build_query_modality,
    input_name,
)
from .sources import find_tokenizer, notice_licence, tokenizer_repo


class TokenizerShelf:
    """The tokenizers of one load: each repo read once, each failure kept with its reason."""

    def __init__(self, root: str | Path | None, device: str) -> None:
        self.root, self.device = root, device
        self.loaded: dict[str, Any] = {}
        self.files: dict[str, Path] = {}
        self.failed: dict[str, str] = {}  # repo id -> why it could not be used

    def get(self, modality: str) -> Any | None:
        """The tokenizer of an FM modality, or None (and the reason in ``failed``)."""
        from anyseek.model.fourm.tokenizers import load_vq_tokenizer

        repo = tokenizer_repo(modality)
        if repo not in self.loaded and repo not in self.failed:
            try:
                source = find_tokenizer(repo, self.root)
                self.loaded[repo] = load_vq_tokenizer(source, modality=modality, device=self.device)
                self.files[repo] = resolve_source(source)[0]
            except (CheckpointError, TokenizerError) as exc:
                self.failed[repo] = str(exc)
        return self.loaded.get(repo)


def load_official_search_model(
    source: str | Path,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    tokenizers: str | Path | None = None,
    precision: str = "float32",
) -> OfficialSearchModel:
    """Load an official 4M / 4M-21 FM (file, folder or repo id) with its tokenizers from the
    ``tokenizers`` folder (or the hub by repo id when None) as a search model.

    Every space the FM predicts needs its tokenizer: missing ones are all named with their repo
    ids. A query modality whose tokenizer is missing is not offered (asking for it names it).
    """
    from anyseek.model.fourm.loading import load_fourm
    from anyseek.model.fourm.tokenizers.text import load_text_tokenizer

    weights_dtype = torch_dtype(dtype)  # a bad name is refused before anything is loaded
    notice_licence()
    try:
        weights, _ = resolve_source(source)
        fm = load_fourm(source, device=device, dtype=weights_dtype)
    except CheckpointError as exc:
        raise ModelError(f"cannot load the 4M checkpoint {source}: {exc}") from None
    shelf = TokenizerShelf(tokenizers, device)
    decoders, names, missing = {}, {}, []
    for spec in SPACE_SPECS:
        output = input_name(fm.output_modalities, spec.output)
        if output is None:
            continue
        tokenizer = shelf.get(output)
        if tokenizer is None:
            repo = tokenizer_repo(output)
            missing.append(f"{spec.name} ({output}): {repo} [{shelf.failed[repo]}]")
            continue
        decoders[output] = PooledDecoder(tokenizer) if spec.pooled else tokenizer
        names[output] = spec.name
    if missing:
        raise ModelError(
            "the tokenizers of these spaces are missing; download each repo into "
            f"ANYSEEK_MODEL__TOKENIZERS ({tokenizers or 'unset: fetched from the hub'}): "
            + "; ".join(missing)
        )
    if not decoders:
        raise ModelError(
            f"{source}: this 4M checkpoint predicts none of the searchable spaces "
            f"({', '.join(s.output for s in SPACE_SPECS)}); its outputs: "
            f"{', '.join(fm.output_modalities)}"
        )
    text = load_text_tokenizer()
    queries, unavailable = {}, {}
    for spec in QUERY_SPECS:
        name = input_name(fm.input_modalities, spec.base)
        if name is None:
            continue
        tokenizer = shelf.get(name) if spec.kind == "tokens" else None
        if spec.kind == "tokens" and tokenizer is None:
            unavailable[spec.name] = tokenizer_repo(name)
            continue
        queries[spec.name] = build_query_modality(spec, name, text, tokenizer, fm.config.image_size)
    bundle = ModelBundle(fm, decoders, text, Path(weights))
    space_files = [shelf.files[tokenizer_repo(o)] for o in decoders]
    model = OfficialSearchModel(
        bundle,
        name=_model_name(source, weights),
        version=weights_digest([weights, *space_files]),
        query_modalities=queries,
        space_names=names,
        unavailable=unavailable,
    )
    model.use_precision(precision, dtype)  # gallery vectors in it: auto, float32, bfloat16
    return model


def _model_name(source: str | Path, weights: Path) -> str:
    """``EPFL-VILAB/4M-21_B`` -> ``4M-21_B``; a folder or file -> its name."""
    path = Path(str(source))
    if path.exists():
        return weights.parent.name if weights.name == "model.safetensors" else weights.stem
    return str(source).rsplit("/", 1)[-1]
