"""Validate user inputs in the official formats and turn them into :class:`ModalityTokens`.

Formats: pixels float [B, C, S, S] (rgb ImageNet-normalised); class maps integer [B, S, S];
token grids integer [B, N] or [B, h, w]; captions integer [B, L] = ids, [EOS], then [PAD] = 0;
embedding sequences float [B, L, E]. A value may also be a ``ModalityTokens`` with an explicit
``input_mask`` (e.g. a caption whose tail is masked for span prediction). Every problem raises
:class:`InputError` naming the modality and what is wrong; nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from anyseek.errors import AnyseekError
from anyseek.model.fourm.batch import ModalityTokens
from anyseek.model.fourm.config import FourMConfig
from anyseek.model.fourm.modalities import EOS_ID, Kind, ModalitySpec, get_modality

InputValue = Tensor | ModalityTokens


class InputError(AnyseekError):
    """An input tensor does not match its modality (shape, dtype, vocabulary, [EOS], ...)."""


def _check_shape(name: str, tensor: Tensor, expected: tuple[int | None, ...], what: str) -> None:
    """Raise unless ``tensor`` has ``expected`` shape (None = any size)."""
    ok = tensor.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, tensor.shape, strict=True)
    )
    if not ok:
        shown = ", ".join(
            "B" if i == 0 else ("*" if e is None else str(e)) for i, e in enumerate(expected)
        )
        raise InputError(f"{name}: expected {what} of shape [{shown}], got {list(tensor.shape)}")


def _check_ids(name: str, tensor: Tensor, vocab: int, hint: str = "") -> None:
    """Integer dtype and every id inside the vocabulary (``hint`` says where ids come from)."""
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.is_complex():
        raise InputError(f"{name}: token ids must be an integer tensor, got {tensor.dtype}")
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= vocab):
        raise InputError(
            f"{name}: token ids must lie in [0, {vocab}), got range "
            f"[{int(tensor.min())}, {int(tensor.max())}]{hint}"
        )


def _check_float(name: str, tensor: Tensor) -> None:
    """Floating dtype without NaN/inf."""
    if not tensor.dtype.is_floating_point:
        raise InputError(f"{name}: expected a floating-point tensor, got {tensor.dtype}")
    if not torch.isfinite(tensor).all():
        raise InputError(f"{name}: tensor contains NaN or infinite values")


def caption_input_mask(name: str, ids: Tensor) -> Tensor:
    """[B, L] input mask of a full caption: visible up to and including each sample's first EOS."""
    is_eos = ids == EOS_ID
    missing = (~is_eos.any(1)).nonzero().flatten().tolist()
    if missing:
        raise InputError(
            f"{name}: sample(s) {missing} have no [EOS] (id {EOS_ID}); a caption "
            "is WordPiece ids, then [EOS], then [PAD] = 0"
        )
    first_eos = is_eos.float().argmax(1)  # [B]
    return torch.arange(ids.shape[1], device=ids.device)[None] > first_eos[:, None]


def prepare_input(name: str, value: InputValue, config: FourMConfig) -> ModalityTokens:
    """Check one input against its spec and build its (fully visible) ModalityTokens."""
    spec = config.spec(name)
    explicit = value if isinstance(value, ModalityTokens) else None
    tensor = explicit.tensor if explicit else value
    if not isinstance(tensor, Tensor):
        raise InputError(f"{name}: expected a torch.Tensor, got {type(tensor).__name__}")
    tensor = _checked_tensor(name, tensor, spec, config)
    batch = tensor.shape[0]
    n = spec.num_tokens(config.image_size) if spec.patch_size else tensor.shape[1]
    if explicit is not None:
        mask = explicit.input_mask
        if mask.dtype != torch.bool or tuple(mask.shape) != (batch, n):
            raise InputError(
                f"{name}: input_mask must be a bool tensor of shape [{batch}, {n}], "
                f"got {mask.dtype} {list(mask.shape)}"
            )
        return ModalityTokens(tensor, mask.to(tensor.device), explicit.target_mask)
    if spec.kind is Kind.TOKEN_SEQUENCE:
        mask = caption_input_mask(name, tensor)
    else:
        mask = torch.zeros(batch, n, dtype=torch.bool, device=tensor.device)
    return ModalityTokens(tensor, mask)


def _checked_tensor(name: str, tensor: Tensor, spec: ModalitySpec, config: FourMConfig) -> Tensor:
    """Shape/dtype/range checks per kind; returns the tensor in the layout the model embeds."""
    if spec.kind is Kind.IMAGE:
        side = spec.input_size or config.image_size
        if spec.num_classes is not None:
            _check_shape(name, tensor, (None, side, side), "a class map")
            _check_ids(name, tensor, spec.num_classes)
            return tensor.long()
        _check_shape(name, tensor, (None, spec.num_channels, side, side), "an image")
        _check_float(name, tensor)
        return tensor
    if spec.kind is Kind.TOKEN_GRID:
        n = spec.num_tokens(config.image_size)
        rows, cols = spec.grid_size(config.image_size)
        if tensor.ndim == 3:
            _check_shape(name, tensor, (None, rows, cols), "a token grid")
            tensor = tensor.reshape(tensor.shape[0], -1)
        _check_shape(name, tensor, (None, n), "token ids")
        _check_ids(name, tensor, spec.vocab_size)
        return tensor.long()
    if spec.kind is Kind.TOKEN_SEQUENCE:
        _check_shape(name, tensor, (None, None), "token ids")
        if tensor.shape[1] > spec.max_length:
            raise InputError(
                f"{name}: {tensor.shape[1]} tokens exceed the maximum {spec.max_length}"
            )
        hint = (
            f" (the model's text vocabulary has {spec.vocab_size} ids: tokenise with its own "
            "text tokenizer)"
        )
        _check_ids(name, tensor, spec.vocab_size, hint)
        return tensor.long()
    _check_shape(name, tensor, (None, None, spec.embedding_dim), "feature vectors")
    _check_float(name, tensor)
    return tensor


def prepare_inputs(
    inputs: Mapping[str, InputValue],
    config: FourMConfig,
    accepted: list[str],
    device: torch.device,
    dtype: torch.dtype,
) -> dict[str, ModalityTokens]:
    """Validate all inputs of a request, check batch sizes agree, move them to the model."""
    if not inputs:
        raise InputError("no inputs given: pass at least one modality")
    out: dict[str, ModalityTokens] = {}
    for name, value in inputs.items():
        get_modality(name)  # unknown names fail with the registry's list
        if name not in accepted:
            raise InputError(
                f"the loaded model was not trained on input {name!r}; its inputs "
                f"are: {', '.join(accepted)}"
            )
        entry = prepare_input(name, value, config)
        tensor = entry.tensor.to(device)
        if tensor.dtype.is_floating_point:
            tensor = tensor.to(dtype)
        out[name] = ModalityTokens(
            tensor,
            entry.input_mask.to(device),
            None if entry.target_mask is None else entry.target_mask.to(device),
        )
    sizes = {name: e.batch_size for name, e in out.items()}
    if len(set(sizes.values())) > 1:
        raise InputError(f"inputs disagree on the batch size: {sizes}")
    return out


def empty_target(name: str, batch: int, num_tokens: int, device: torch.device) -> ModalityTokens:
    """A target to be generated in full: hidden from the encoder, every position a target."""
    hidden = torch.ones(batch, num_tokens, dtype=torch.bool, device=device)
    tensor = torch.zeros(batch, num_tokens, dtype=torch.long, device=device)
    return ModalityTokens(tensor, hidden, ~hidden)
