"""Load an official-format 4M tokenizer from a file, a hub folder, a repo id or a preset name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from anyseek.model.fourm.checkpoint import load_state_dict_strict, read_checkpoint
from anyseek.model.fourm.tokenizers.errors import TokenizerError
from anyseek.model.fourm.tokenizers.presets import (
    TOKENIZER_PRESETS,
    InputKind,
    TokenizerPreset,
    preset_for_modality,
)
from anyseek.model.fourm.tokenizers.vqvae import TokenizerConfig, VQTokenizer


def resolve_tokenizer_source(source: str | Path) -> str | Path:
    """Map a preset name (``depth``, ``DINOv2-B14-global``...) to its repo id; keep paths."""
    if isinstance(source, str) and source in TOKENIZER_PRESETS and not Path(source).exists():
        return TOKENIZER_PRESETS[source].repo_id
    return source


def load_vq_tokenizer(
    source: str | Path, *, modality: str | None = None, device: str | torch.device = "cpu"
) -> VQTokenizer:
    """Build a tokenizer from its checkpoint and load the weights with strict key matching.

    ``source`` is a ``.safetensors`` file with the config in its metadata, a folder holding
    ``config.json`` + ``model.safetensors``, a Hugging Face repo id, or a preset name. When
    ``modality`` (e.g. ``tok_depth@224``) is given, a file of the wrong kind for it is refused.
    Diffusion (DiVAE) tokenizers load their encoder only; their ``decoder.*`` weights are skipped.
    """
    checkpoint = read_checkpoint(resolve_tokenizer_source(source))
    try:
        config = TokenizerConfig.from_dict(checkpoint.config)
    except (TypeError, ValueError) as exc:
        raise TokenizerError(f"{checkpoint.path}: unusable tokenizer config ({exc})") from None
    except TokenizerError as exc:
        raise TokenizerError(f"{checkpoint.path}: {exc}") from None
    if modality is not None:
        check_tokenizer_fits(config, preset_for_modality(modality), modality, checkpoint.path)
    try:
        tokenizer = VQTokenizer(config)
    except (TokenizerError, TypeError, ValueError) as exc:
        raise TokenizerError(f"{checkpoint.path}: cannot build the tokenizer ({exc})") from None
    if config.diffusion:  # the diffusion decoder is not built, so its weights are not loaded
        kept = {k: v for k, v in checkpoint.state_dict.items() if not k.startswith("decoder.")}
        checkpoint = dataclasses.replace(checkpoint, state_dict=kept)
    load_state_dict_strict(tokenizer, checkpoint)
    return tokenizer.to(device).eval()


def check_tokenizer_fits(
    config: TokenizerConfig, preset: TokenizerPreset, modality: str, path: Path
) -> None:
    """Refuse a tokenizer whose input kind, channels, labels or vocabulary do not fit a modality."""
    problems = []
    kind = _input_kind(config)
    if kind is not preset.input_kind:
        problems.append(
            f"it takes {kind.value} input, the modality needs {preset.input_kind.value}"
        )
    if config.codebook_size != preset.vocab_size:
        problems.append(
            f"vocabulary {config.codebook_size}, the modality needs {preset.vocab_size}"
        )
    if (
        preset.n_channels is not None
        and kind is not InputKind.LABELS
        and (config.n_channels != preset.n_channels)
    ):
        problems.append(
            f"{config.n_channels} input channels, the modality needs {preset.n_channels}"
        )
    if preset.n_labels is not None and config.n_labels != preset.n_labels:
        problems.append(f"{config.n_labels} classes, the modality needs {preset.n_labels}")
    if problems:
        raise TokenizerError(
            f"{path}: not a tokenizer for {modality!r} (expected something like the official "
            f"{preset.name!r} tokenizer, {preset.repo_id}): " + "; ".join(problems)
        )


def _input_kind(config: TokenizerConfig) -> InputKind:
    """What a config's encoder consumes, without building it."""
    if config.n_labels is not None:
        return InputKind.LABELS
    if "MLP" in config.enc_type:
        return InputKind.GLOBAL
    return InputKind.IMAGE if config.patch_proj else InputKind.FEATURE_MAP
