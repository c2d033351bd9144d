"""The 4M encoder-decoder network (nanoGPT style): embeddings, encoder, decoder, output heads.

The network knows nothing about prediction or sampling: ``anyseek.model.fourm.inference.predict``
and
``anyseek.model.fourm.inference.sampling`` build on the few primitives here (they import this
module, never the reverse):

* ``embed_inputs`` : modalities -> visible tokens of all of them, compacted per sample;
* ``encode``       : tokens -> cross-attention context (``decoder_proj_context(h) + emb``);
* ``decode``       : decoder queries + context -> hidden states (then a modality's head);
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from anyseek.model.fourm.batch import EncoderContext, EncoderInput, ModalityTokens
from anyseek.model.fourm.config import FourMConfig
from anyseek.model.fourm.embeddings import (
    DecoderEmbedding,
    build_decoder_embedding,
    build_encoder_embedding,
)
from anyseek.model.fourm.layers import (
    BlockSpec,
    DecoderBlock,
    EncoderBlock,
    KVCache,
    LayerNorm,
    mask_to_bias,
)


def compact(selected: Tensor) -> tuple[Tensor, Tensor]:
    """Indices of the selected slots of each row, in order, padded: ([B, M] index, [B, M] pad)."""
    count = int(selected.sum(1).max()) if selected.numel() else 0
    order = torch.sort((~selected).to(torch.uint8), dim=1, stable=True).indices[:, :count]
    return order, ~torch.gather(selected, 1, order)


def gather_rows(x: Tensor, index: Tensor) -> Tensor:
    """x [B, N, D] gathered at index [B, M] -> [B, M, D]."""
    return torch.gather(x, 1, index[..., None].expand(-1, -1, x.shape[-1]))


@dataclass(frozen=True)
class DecoderSegment:
    """Queries of one target modality inside a (possibly multi-target) decoder pass."""

    name: str
    queries: Tensor  # [B, M, D]
    padding: Tensor  # [B, M] bool, True = padding query
    causal: bool = False


def segment_mask(config: FourMConfig, segments: Sequence[DecoderSegment]) -> Tensor | None:
    """[B, M, M] self-attention mask of ``segments`` (True = may not attend) under ``config``."""
    if len(segments) == 1 and not segments[0].causal and not segments[0].padding.any():
        return None
    device = segments[0].queries.device
    seg_id = torch.cat(
        [torch.full(s.padding.shape, i, device=device) for i, s in enumerate(segments)], 1
    )  # [B, M]
    padding = torch.cat([s.padding for s in segments], 1)
    causal = torch.cat([torch.full(s.padding.shape, s.causal, device=device) for s in segments], 1)
    M = seg_id.shape[1]
    idx = torch.arange(M, device=device)
    later = idx[None, :] > idx[:, None]  # [M, M] key after query
    blocked = padding[:, None, :] | (later[None] & causal[:, :, None])
    if config.decoder_sep_mask or len(segments) > 1:
        blocked = blocked | (seg_id[:, :, None] != seg_id[:, None, :])
    if config.decoder_causal_mask:
        blocked = blocked | later[None]
    return blocked


class FourM(nn.Module):
    """4M / 4M-21 encoder-decoder built from a :class:`FourMConfig`; weights load 1:1."""

    def __init__(self, config: FourMConfig) -> None:
        super().__init__()
        self.config = config
        dim, size = config.dim, config.image_size
        self.encoder_embeddings = nn.ModuleDict(
            {
                m: build_encoder_embedding(config.spec(m), dim, size)
                for m in config.domains_in
                if config.spec(m).encoder is not None
            }
        )
        self.decoder_embeddings = nn.ModuleDict(
            {m: build_decoder_embedding(config.spec(m), dim, size) for m in config.domains_out}
        )
        self.tie_modality_embeddings()
        spec = BlockSpec.from_config(config, act=getattr(nn, config.act_layer))
        self.encoder = nn.ModuleList([EncoderBlock(spec) for _ in range(config.encoder_depth)])
        self.encoder_norm = LayerNorm(dim, bias=config.norm_bias)
        self.decoder_proj_context = nn.Linear(dim, dim)
        self.decoder = nn.ModuleList([DecoderBlock(spec) for _ in range(config.decoder_depth)])
        self.decoder_norm = LayerNorm(dim, bias=config.norm_bias)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.mask_token, std=0.02)
        if config.num_register_tokens > 0:
            self.register_tokens = nn.Parameter(torch.zeros(1, config.num_register_tokens, dim))
            nn.init.normal_(self.register_tokens, std=0.02)
        else:
            self.register_tokens = None

    def tie_modality_embeddings(self) -> None:
        """Inputs that are also outputs share one ``mod_emb`` (if the config says so)."""
        if self.config.share_modality_embeddings:
            for m in self.encoder_embeddings.keys() & self.decoder_embeddings.keys():
                self.decoder_embeddings[m].mod_emb = self.encoder_embeddings[m].mod_emb

    # ----------------------------------------------------------------------------- properties
    @property
    def input_modalities(self) -> list[str]:
        """Modalities the encoder accepts, in config order."""
        return list(self.encoder_embeddings.keys())

    @property
    def output_modalities(self) -> list[str]:
        """Modalities the decoder can predict, in config order."""
        return list(self.decoder_embeddings.keys())

    @property
    def device(self) -> torch.device:
        """Device of the weights."""
        return self.mask_token.device

    @property
    def dtype(self) -> torch.dtype:
        """Compute dtype of the weights."""
        return self.mask_token.dtype

    def decoder_embedding(self, name: str) -> DecoderEmbedding:
        """Decoder embedding + head of an output modality."""
        return self.decoder_embeddings[name]  # type: ignore[return-value]

    # -------------------------------------------------------------------------------- encoder
    def embed_inputs(self, sample: Mapping[str, ModalityTokens]) -> EncoderInput:
        """Embed every visible input token and compact them per sample, visible ones first.

        Tokens are concatenated in ``sample`` order; a sample with fewer visible tokens than the
        longest one is padded with zero features/embeddings marked in ``padding``.
        """
        xs, embs, hidden = [], [], []
        for name, entry in sample.items():
            if name not in self.encoder_embeddings:
                continue
            x, emb = self.encoder_embeddings[name](entry.tensor, entry.input_mask)  # [B, N, D] x2
            xs.append(x)
            embs.append(emb)
            hidden.append(entry.input_mask)
        x_all, emb_all, hidden_all = torch.cat(xs, 1), torch.cat(embs, 1), torch.cat(hidden, 1)
        index, padding = compact(~hidden_all)  # [B, T]
        x = gather_rows(x_all, index).masked_fill(padding[..., None], 0.0)
        emb = gather_rows(emb_all, index).masked_fill(padding[..., None], 0.0)
        if self.register_tokens is not None:
            B, R = x.shape[0], self.register_tokens.shape[1]
            x = torch.cat([self.register_tokens.expand(B, -1, -1).to(x.dtype), x], 1)
            emb = torch.cat([torch.zeros_like(x[:, :R]), emb], 1)
            padding = torch.cat([padding.new_zeros(B, R), padding], 1)
        return EncoderInput(tokens=x, emb=emb, padding=padding)

    def encode(self, enc: EncoderInput) -> EncoderContext:
        """Run the encoder; context = decoder_proj_context(encoder output) + input embeddings."""
        return self.encode_biased(enc, self._padding_bias(enc.padding, enc.tokens.dtype))

    def encode_biased(self, enc: EncoderInput, bias: Tensor | None) -> EncoderContext:
        """``encode`` with its key-padding bias [B, 1, 1, T] given (no data-dependent host sync)."""
        h = enc.tokens + enc.emb
        for block in self.encoder:
            h = block(h, bias)
        h = self.encoder_norm(h)
        return EncoderContext(self.decoder_proj_context(h) + enc.emb, enc.padding)

    # -------------------------------------------------------------------------------- decoder
    def mask_queries(self, name: str, positions: Tensor) -> Tensor:
        """Queries for parallel prediction: mask token + position + modality embedding [B,M,D]."""
        return self.mask_token + self.decoder_embedding(name).query_emb(positions)

    @staticmethod
    def _padding_bias(padding: Tensor, dtype: torch.dtype) -> Tensor | None:
        """Additive key-padding bias [B, 1, 1, T]; None without padding (allows fused kernels)."""
        return mask_to_bias(padding[:, None, None, :], dtype) if padding.any() else None

    def decode(
        self,
        queries: Tensor,
        ctx: EncoderContext,
        self_blocked: Tensor | None = None,
        caches: Sequence[KVCache] | None = None,
    ) -> Tensor:
        """Decoder blocks + final norm; ``self_blocked`` [B, M, M] True = may not attend.

        ``caches`` (one :class:`KVCache` per decoder block) decode a causal sequence
        incrementally: ``queries`` are then only its new positions, which see all earlier ones.
        """
        dtype = queries.dtype
        self_bias = None if self_blocked is None else mask_to_bias(self_blocked[:, None], dtype)
        cross_bias = self._padding_bias(ctx.padding, dtype)
        return self.decode_biased(queries, ctx.context, self_bias, cross_bias, caches)

    def decode_biased(
        self,
        queries: Tensor,
        context: Tensor,
        self_bias: Tensor | None,
        cross_bias: Tensor | None,
        caches: Sequence[KVCache] | None = None,
    ) -> Tensor:
        """``decode`` with its additive biases given: [B, 1, M, M] self, [B, 1, 1, T] cross."""
        y = queries
        for i, block in enumerate(self.decoder):
            y = block(y, context, self_bias, cross_bias, None if caches is None else caches[i])
        return self.decoder_norm(y)

    def new_caches(self) -> list[KVCache]:
        """Empty key/value caches, one per decoder block, for incremental decoding."""
        return [KVCache() for _ in self.decoder]

    def decode_segments(
        self, segments: Sequence[DecoderSegment], ctx: EncoderContext
    ) -> list[Tensor]:
        """Decode several targets in one pass; each attends only to itself (and causally if set).

        Returns the final hidden states of each segment, [B, M_i, D].
        """
        queries = torch.cat([s.queries for s in segments], 1)  # [B, M, D]
        blocked = self.segment_mask(segments)
        hidden = self.decode(queries, ctx, blocked)
        return list(hidden.split([s.queries.shape[1] for s in segments], 1))

    def segment_mask(self, segments: Sequence[DecoderSegment]) -> Tensor | None:
        """[B, M, M] self-attention mask: block-diagonal per segment, causal inside causal ones."""
        return segment_mask(self.config, segments)

    def logits(self, name: str, hidden: Tensor) -> Tensor:
        """Output head of ``name``: [B, M, D] -> [B, M, V]."""
        return self.decoder_embedding(name)(hidden)
