"""Single-pass prediction: target logits, greedy global tokens, and retrieval embeddings.

``predict_embeddings`` is the service's retrieval path: ONE encoder pass over the inputs, ONE
decoder pass predicting the 16 tokens of every requested global space at once (each space's
queries attend only to themselves, exactly like separate reference passes), then each space's
tokenizer decodes the prediction to a vector, which is L2-normalised: the argmax tokens
(``greedy``, the official way) or the probability-weighted mean code of every token
(``expected``). ``predict_space_embeddings`` also returns how much each space's prediction says
about this input (:func:`token_information`), which is what fusion across spaces weights by
(``anyseek.model.runtime.fusion``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor

from anyseek.model.fourm.batch import EncoderContext
from anyseek.model.fourm.inputs import InputError, InputValue, prepare_inputs
from anyseek.model.fourm.modalities import Kind, get_modality
from anyseek.model.fourm.network import DecoderSegment, FourM


@runtime_checkable
class VectorDecoder(Protocol):
    """Turns the tokens of one global space back into feature vectors (a VQ tokenizer)."""

    def decode(self, tokens: Tensor) -> Tensor:
        """LongTensor [B, N] -> FloatTensor [B, C]."""
        ...


def check_target(
    model: FourM,
    name: str,
    inputs: Mapping[str, object],
    kinds: tuple[Kind, ...] = (Kind.TOKEN_GRID,),
) -> None:
    """Raise unless ``name`` is an output of the model of an allowed kind and not also an input."""
    spec = get_modality(name)
    if name not in model.output_modalities:
        raise InputError(
            f"the loaded model cannot predict {name!r}; its outputs are: "
            f"{', '.join(model.output_modalities)}"
        )
    if spec.kind not in kinds:
        raise InputError(f"{name!r} is a {spec.kind.value} target; use generate() for it")
    if name in inputs:
        raise InputError(f"{name!r} is both an input and a target")


def encode_inputs(model: FourM, inputs: Mapping[str, InputValue]) -> tuple[EncoderContext, int]:
    """Validate, embed and encode the inputs once; returns the context and the batch size."""
    sample = prepare_inputs(inputs, model.config, model.input_modalities, model.device, model.dtype)
    batch = next(iter(sample.values())).batch_size
    return model.encode(model.embed_inputs(sample)), batch


def _all_positions(model: FourM, name: str, batch: int) -> Tensor:
    """[B, N] every position of a target grid, in position order."""
    n = model.config.num_tokens(name)
    return torch.arange(n, device=model.device).expand(batch, n)


@torch.inference_mode()
def predict_logits(model: FourM, inputs: Mapping[str, InputValue], target: str) -> Tensor:
    """Float32 logits [B, N, V] for every position of ``target`` from one decoder pass."""
    check_target(model, target, inputs)
    ctx, batch = encode_inputs(model, inputs)
    queries = model.mask_queries(target, _all_positions(model, target, batch))  # [B, N, D]
    return model.logits(target, model.decode(queries, ctx)).float()


def _target_logits(
    model: FourM, inputs: Mapping[str, InputValue], targets: Sequence[str]
) -> dict[str, Tensor]:
    """Logits [B, N, V] of every position of several token-grid targets, from one encoder pass and
    one decoder pass (each target's queries attend only to themselves)."""

    if not targets:
        raise InputError("no target spaces requested")
    for name in targets:
        check_target(model, name, inputs)
    ctx, batch = encode_inputs(model, inputs)
    segments = []
    for name in targets:
        positions = _all_positions(model, name, batch)
        segments.append(
            DecoderSegment(
                name,
                model.mask_queries(name, positions),
                torch.zeros_like(positions, dtype=torch.bool),
            )
        )
    hidden = model.decode_segments(segments, ctx)
    return {s.name: model.logits(s.name, h) for s, h in zip(segments, hidden, strict=True)}


@torch.inference_mode()
def predict_distributions(
    model: FourM, inputs: Mapping[str, InputValue], targets: Sequence[str]
) -> dict[str, Tensor]:
    """Float32 token distributions [B, N, V] for several token-grid targets, from one pass."""
    return {n: lg.float().softmax(-1) for n, lg in _target_logits(model, inputs, targets).items()}


@torch.inference_mode()
def predict_tokens(
    model: FourM, inputs: Mapping[str, InputValue], targets: Sequence[str]
) -> dict[str, Tensor]:
    """Greedy tokens [B, N] for several token-grid targets: one encoder and one decoder pass."""
    return {name: lg.argmax(-1) for name, lg in _target_logits(model, inputs, targets).items()}


#: How predicted token distributions become vectors: ``greedy`` decodes the argmax tokens (the
#: official way), ``expected`` decodes the probability-weighted mean code of every token.
DECODE_MODES = ("greedy", "expected")


def token_information(probs: Tensor, prior: Tensor | None = None) -> Tensor:
    """[B, N, V] token distributions -> [B] nats: mean over tokens of KL(prediction || prior).

    ``prior`` [N, V] is what the space predicts for a typical indexed image (a bundle's
    ``priors``); a prediction that only repeats it says nothing about the input, however peaked
    it is. Without a prior the uniform distribution stands in, and the value is log V minus the
    mean entropy.
    """
    log_p = probs.clamp_min(1e-30).log()
    log_prior = -math.log(probs.shape[-1]) if prior is None else prior.clamp_min(1e-30).log()
    return (probs * (log_p - log_prior)).sum(-1).mean(-1).clamp_min(0.0)


@dataclass(frozen=True)
class SpaceEmbedding:
    """One global space's prediction for a batch: vectors and how much they say about the input."""

    vectors: Tensor  # [B, C] float32, L2-normalised
    information: Tensor  # [B] float32 nats >= 0 (token_information)


def predict_embeddings(
    model: FourM,
    inputs: Mapping[str, InputValue],
    spaces: Mapping[str, VectorDecoder],
    decode: str = "greedy",
) -> dict[str, Tensor]:
    """L2-normalised float32 vectors [B, C] per global space, decoded by that space's tokenizer."""
    found = predict_space_embeddings(model, inputs, spaces, decode)
    return {name: e.vectors for name, e in found.items()}


@torch.inference_mode()
def predict_space_embeddings(
    model: FourM,
    inputs: Mapping[str, InputValue],
    spaces: Mapping[str, VectorDecoder],
    decode: str = "greedy",
    priors: Mapping[str, Tensor] | None = None,
) -> dict[str, SpaceEmbedding]:
    """Vectors and information (against ``priors`` [N, V] per space, where given) per global
    space, from one encoder and one decoder pass."""
    if decode not in DECODE_MODES:
        raise InputError(f"decode must be one of {', '.join(DECODE_MODES)}, got {decode!r}")
    for name, decoder in spaces.items():
        if not isinstance(decoder, VectorDecoder):
            raise InputError(f"decoder for {name!r} has no decode(tokens) method")
        if decode == "expected" and not hasattr(decoder, "decode_expected"):
            raise InputError(f"decoder for {name!r} cannot decode expected codes")
    return embeddings_from_distributions(
        predict_distributions(model, inputs, list(spaces)), spaces, decode, priors
    )


@torch.inference_mode()
def embeddings_from_distributions(
    distributions: Mapping[str, Tensor],
    spaces: Mapping[str, VectorDecoder],
    decode: str = "greedy",
    priors: Mapping[str, Tensor] | None = None,
) -> dict[str, SpaceEmbedding]:
    """Token distributions [B, N, V] per space -> vectors and information (shared by every way
    of predicting them: one pass, or several passes combined by guidance)."""
    out = {}
    for name, decoder in spaces.items():
        probs = distributions[name]
        if decode == "expected":
            vectors = decoder.decode_expected(probs).float()
        else:
            vectors = decoder.decode(probs.argmax(-1)).float()
        if vectors.ndim != 2 or vectors.shape[0] != probs.shape[0]:
            raise InputError(
                f"decoder for {name!r} returned shape {list(vectors.shape)}, expected [B, C]"
            )
        prior = (priors or {}).get(name)
        prior = None if prior is None else prior.to(probs.device, torch.float32)
        out[name] = SpaceEmbedding(F.normalize(vectors, dim=-1), token_information(probs, prior))
    return out
