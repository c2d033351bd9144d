"""Chained generation with the reference sampler's semantics (ROAR, MaskGIT, autoregressive).

Targets are generated one after the other; each finished target becomes a visible input of the
next. Per schedule step ``i`` the random stream is a generator seeded with ``seed + i`` (the
reference reseeds the global RNG the same way): it first draws the ROAR visiting order, then any
multinomial samples, so a given seed reproduces the reference token for token. Temperature 0 is
greedy. Classifier-free guidance runs a second pass with the conditioning modalities emptied and
mixes ``uncond + scale * (cond - uncond)``; with ``cfg_grow_conditioning`` every finished target
joins the emptied set for the following targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from anyseek.model.fourm.batch import EncoderContext, ModalityTokens
from anyseek.model.fourm.inference.predict import check_target
from anyseek.model.fourm.inputs import InputError, InputValue, empty_target, prepare_inputs
from anyseek.model.fourm.modalities import PAD_ID, S1_ID, SENTINEL_IDS, Kind, get_modality
from anyseek.model.fourm.network import FourM

Sample = dict[str, ModalityTokens]
SCHEMES = ("roar", "maskgit", "autoregressive")


@dataclass(frozen=True)
class GenerationTarget:
    """One target of a chained generation and how to decode it."""

    modality: str
    num_tokens: int | None = None  # default: the grid size; sequences: 256 slots
    scheme: str | None = None  # roar | maskgit (grids), autoregressive (sequences)
    steps: int = 1  # ROAR/MaskGIT decoding steps (tokens split linearly, largest first)
    temperature: float = 0.0  # 0 = greedy
    cfg_scale: float = 1.0  # classifier-free guidance scale; 1 = off


@dataclass(frozen=True)
class _Step:
    """One entry of the chained schedule."""

    target: str
    scheme: str
    num_select: int | None
    temperature: float
    cfg_scale: float
    cfg_conditions: tuple[str, ...]

    @property
    def guided(self) -> bool:
        """Whether classifier-free guidance is on for this step."""
        return self.cfg_scale != 1.0 and bool(self.cfg_conditions)


def mix_guidance(cond: Tensor, uncond: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance: from the unconditional logits ``scale`` times towards the
    conditional ones (the one mix every scheme uses)."""
    return uncond + (cond - uncond) * scale


def linear_token_schedule(steps: int, total: int) -> list[int]:
    """Tokens per step: an even split of ``total`` over ``steps``, largest first, zeros dropped."""
    counts = np.diff(np.linspace(0, total, steps + 1, dtype=int))
    return [int(c) for c in sorted(counts, reverse=True) if c > 0]


def _make_generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    """A generator seeded like the reference reseeds the global RNG (None = global RNG)."""
    if seed is None:
        return None
    return torch.Generator(device=device).manual_seed(seed)


def filter_top_k_top_p(logits: Tensor, top_k: float = 0.0, top_p: float = 0.0) -> Tensor:
    """Set logits outside the top-k (int count or float fraction) / nucleus top-p to -inf."""
    logits = logits.clone()
    if top_k > 0:
        vocab = logits.shape[-1]
        k = min(top_k if isinstance(top_k, int) else int(top_k * vocab), vocab)
        kth = torch.topk(logits, k)[0][..., -1, None]
        logits[logits < kth] = float("-inf")
    if top_p > 0:
        sorted_logits, sorted_idx = torch.sort(logits, dim=-1, descending=True)
        remove = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1) > top_p
        remove[..., 1:] = remove[..., :-1].clone()  # keep the first token above the threshold
        remove[..., 0] = False
        logits[torch.gather(remove, -1, torch.argsort(sorted_idx, dim=-1))] = float("-inf")
    return logits


def sample_tokens(
    logits: Tensor,
    temperature: float,
    top_k: float,
    top_p: float,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor]:
    """Sample one token per row of [.., V] logits -> (ids [..], their probabilities [..])."""
    if np.isclose(temperature, 0, atol=1e-10):
        ids = logits.argmax(-1)
        return ids, torch.ones_like(ids, dtype=torch.float32)
    flat = logits.reshape(-1, logits.shape[-1]).float()
    probs = F.softmax(filter_top_k_top_p(flat, top_k, top_p) / temperature, dim=-1)
    ids = torch.multinomial(probs, 1, generator=generator)[:, 0]
    chosen = probs.gather(1, ids[:, None])[:, 0]
    return ids.reshape(logits.shape[:-1]), chosen.reshape(logits.shape[:-1])


def empty_modality(entry: ModalityTokens, kind: Kind) -> ModalityTokens:
    """The unconditional version of an input: images vanish, sequences keep one [S_1] token."""
    if kind is Kind.TOKEN_SEQUENCE:
        tensor = torch.zeros_like(entry.tensor)
        tensor[:, :2] = S1_ID
        tensor[:, -1] = S1_ID + 1
        hidden = torch.ones_like(entry.input_mask)
        hidden[:, 0] = False
        return ModalityTokens(tensor, hidden, ~hidden)
    return ModalityTokens(
        entry.tensor, torch.ones_like(entry.input_mask), torch.zeros_like(entry.input_mask)
    )


def empty_sequence_target(batch: int, num_tokens: int, device: torch.device) -> ModalityTokens:
    """Caption-like target ``[S_1] [S_1] 0 .. 0 [S_2]``; the encoder sees the first [S_1]."""
    tensor = torch.zeros(batch, num_tokens, dtype=torch.long, device=device)
    return empty_modality(ModalityTokens(tensor, tensor == 0), Kind.TOKEN_SEQUENCE)


def merge_span(input_ids: list[int], predicted: list[int]) -> list[int]:
    """Replace each sentinel of the input by the predicted span that follows it."""
    spans: dict[int | None, list[int]] = {}
    current = None
    for token in predicted:
        if token in SENTINEL_IDS:
            current = token
        else:
            spans.setdefault(current, []).append(token)
    out: list[int] = []
    for token in input_ids:
        out.extend(spans.get(token, []) if token in SENTINEL_IDS else [token])
    return out


class Sampler:
    """Runs a chained generation schedule on a :class:`FourM`."""

    def __init__(self, model: FourM, top_k: float, top_p: float) -> None:
        self.model, self.top_k, self.top_p = model, top_k, top_p

    def context(self, sample: Sample) -> EncoderContext:
        """Encoder pass over every visible token of the sample."""
        return self.model.encode(self.model.embed_inputs(sample))

    def uncond(self, sample: Sample, conditions: Sequence[str]) -> Sample:
        """The sample with the guided modalities emptied."""
        return {
            name: empty_modality(e, get_modality(name).kind) if name in conditions else e
            for name, e in sample.items()
        }

    def guided_logits(self, sample: Sample, step: _Step, run) -> Tensor:
        """``run(sample)`` -> logits, mixed with its unconditional twin when guidance is on."""
        logits = run(sample)
        if not step.guided:
            return logits
        return mix_guidance(logits, run(self.uncond(sample, step.cfg_conditions)), step.cfg_scale)

    def grid_step(self, sample: Sample, step: _Step, gen: torch.Generator | None) -> Sample:
        """One ROAR or MaskGIT step: predict target positions, keep ``num_select`` of them."""
        entry = sample[step.target]
        N = entry.input_mask.shape[1]
        remaining = ~entry.target_mask  # [B, N] still to predict
        if step.scheme == "roar":
            noise = torch.rand(N, generator=gen, device=entry.tensor.device)[None] * 1e-6
            count = min(step.num_select, int(remaining[0].sum()))
        else:
            noise = torch.arange(N, device=entry.tensor.device)[None] * 1e-6
            count = int(remaining[0].sum())
        positions = torch.argsort(entry.target_mask.float() + noise, dim=1)[:, :count]  # [B, M]
        queries_pad = torch.gather(entry.target_mask, 1, positions)

        def run(s: Sample) -> Tensor:
            """Logits at the chosen positions under sample ``s``."""
            queries = self.model.mask_queries(step.target, positions)
            queries = queries.masked_fill(queries_pad[..., None], 0.0)
            return self.model.logits(step.target, self.model.decode(queries, self.context(s)))

        logits = self.guided_logits(sample, step, run).float()
        ids, probs = sample_tokens(logits, step.temperature, self.top_k, self.top_p, gen)
        if step.scheme == "maskgit":  # keep the most confident num_select predictions
            keep = torch.topk(probs, step.num_select, dim=-1)[1]
            positions, ids = torch.gather(positions, 1, keep), torch.gather(ids, 1, keep)
        tensor = entry.tensor.scatter(1, positions, ids.to(entry.tensor.dtype))
        shown = entry.input_mask.scatter(1, positions, False)
        done = entry.target_mask.scatter(1, positions, True)
        return {**sample, step.target: ModalityTokens(tensor, shown, done)}

    def autoregressive(self, sample: Sample, step: _Step, gen: torch.Generator | None) -> Sample:
        """Decode a sequence target token by token from each sample's first sentinel, then merge.

        Every sample has its own target slots, end token (its last target slot) and length, so a
        batch decodes exactly like its samples one by one. Keys and values of earlier tokens are
        cached, so each step runs the decoder on the new token only.
        """
        model, entry = self.model, sample[step.target]
        emb = model.decoder_embedding(step.target)
        order = torch.sort(entry.target_mask.to(torch.uint8), dim=1, stable=True).indices
        counts = (~entry.target_mask).sum(1)  # [B] target slots per sample
        ids = entry.tensor.long()
        token = ids.gather(1, order[:, :1])[:, 0]  # [B] each sample's opening sentinel
        eos = ids.gather(1, order.gather(1, (counts - 1).clamp(min=0)[:, None]))[:, 0]  # [B]
        lengths = counts.clamp(max=get_modality(step.target).max_tokens)  # tokens to generate
        contexts = [self.context(sample)]
        if step.guided:
            contexts.append(self.context(self.uncond(sample, step.cfg_conditions)))
        caches = [model.new_caches() for _ in contexts]
        finished = lengths == 0
        out = [token]
        for t in range(int(lengths.max())):
            if finished.all():
                break
            pos = torch.tensor([t if t < emb.pos_emb.shape[1] else 0], device=ids.device)
            y = emb.token_emb(token[:, None]) + emb.query_emb(pos[None])  # [B, 1, D]
            last = [
                model.logits(step.target, model.decode(y, c, caches=kv)[:, -1]).float()
                for c, kv in zip(contexts, caches, strict=True)
            ]
            logits = last[0] if len(last) == 1 else mix_guidance(*last, step.cfg_scale)
            token, _ = sample_tokens(logits, step.temperature, self.top_k, self.top_p, gen)
            token = token.masked_fill(finished, PAD_ID)
            out.append(token)
            finished = finished | (token == eos) | (t + 1 >= lengths)
        generated = torch.stack(out, 1)  # [B, 1 + steps]
        kept = [generated[b, : 1 + int(lengths[b])] for b in range(generated.shape[0])]
        return {**sample, step.target: self.merge(entry, kept)}

    @staticmethod
    def merge(entry: ModalityTokens, out: Sequence[Tensor]) -> ModalityTokens:
        """Merge each sample's predicted span into its visible ids; right-pad with [PAD]."""
        merged = []
        for b, predicted in enumerate(out):
            visible = entry.tensor[b][~entry.input_mask[b]].tolist() or [S1_ID]
            merged.append(merge_span(visible, predicted.tolist()))
        length = max(len(m) for m in merged)
        tensor = torch.full((len(merged), length), PAD_ID, dtype=torch.long)
        hidden = torch.ones(len(merged), length, dtype=torch.bool)
        for b, m in enumerate(merged):
            tensor[b, : len(m)] = torch.tensor(m, dtype=torch.long)
            hidden[b, : len(m)] = False
        device = entry.tensor.device
        return ModalityTokens(
            tensor.to(device), hidden.to(device), torch.ones_like(hidden).to(device)
        )


def build_schedule(
    targets: Sequence[GenerationTarget],
    conditions: Sequence[str],
    grow_conditioning: bool,
    image_size: int,
) -> list[_Step]:
    """Expand targets into per-step entries, like the reference chained schedule builder."""
    steps: list[_Step] = []
    conditions = list(conditions)
    for t in targets:
        spec = get_modality(t.modality)
        if t.scheme == "autoregressive" or spec.kind is Kind.TOKEN_SEQUENCE:
            if t.scheme not in (None, "autoregressive") or spec.kind is not Kind.TOKEN_SEQUENCE:
                raise InputError(
                    f"{t.modality}: scheme {t.scheme!r} does not fit a {spec.kind.value}"
                )
            steps.append(
                _Step(
                    t.modality,
                    "autoregressive",
                    None,
                    t.temperature,
                    t.cfg_scale,
                    tuple(conditions),
                )
            )
        else:
            scheme = t.scheme or "roar"
            if scheme not in SCHEMES or t.steps < 1:
                raise InputError(f"{t.modality}: unknown scheme {scheme!r} or steps < 1")
            total = t.num_tokens or spec.num_tokens(image_size)
            steps += [
                _Step(t.modality, scheme, k, t.temperature, t.cfg_scale, tuple(conditions))
                for k in linear_token_schedule(t.steps, total)
            ]
        if grow_conditioning:
            conditions.append(t.modality)
    return steps


@torch.inference_mode()
def generate(
    model: FourM,
    inputs: Mapping[str, InputValue],
    targets: Sequence[str | GenerationTarget],
    *,
    top_k: float = 0.0,
    top_p: float = 0.0,
    seed: int | None = None,
    cfg_grow_conditioning: bool = True,
) -> dict[str, ModalityTokens]:
    """Generate ``targets`` in order from ``inputs``; returns each target's final tokens/masks."""
    targets = [t if isinstance(t, GenerationTarget) else GenerationTarget(t) for t in targets]
    if not targets:
        raise InputError("no targets to generate")
    sample: Sample = prepare_inputs(
        inputs, model.config, model.input_modalities, model.device, model.dtype
    )
    batch = next(iter(sample.values())).batch_size
    for t in targets:
        check_target(model, t.modality, sample, (Kind.TOKEN_GRID, Kind.TOKEN_SEQUENCE))
        spec = get_modality(t.modality)
        if spec.kind is Kind.TOKEN_SEQUENCE:
            n = t.num_tokens or spec.max_tokens
            if not 3 <= n <= spec.max_length:
                raise InputError(f"{t.modality}: num_tokens must lie in [3, {spec.max_length}]")
            sample[t.modality] = empty_sequence_target(batch, n, model.device)
        else:
            sample[t.modality] = empty_target(
                t.modality, batch, spec.num_tokens(model.config.image_size), model.device
            )
    schedule = build_schedule(targets, list(inputs), cfg_grow_conditioning, model.config.image_size)
    sampler = Sampler(model, top_k, top_p)
    for i, step in enumerate(schedule):
        gen = _make_generator(None if seed is None else seed + i, model.device)
        if step.scheme == "autoregressive":
            sample = sampler.autoregressive(sample, step, gen)
        else:
            sample = sampler.grid_step(sample, step, gen)
    return {t.modality: sample[t.modality] for t in targets}
