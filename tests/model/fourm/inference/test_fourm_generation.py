"""Batched generation: a batch decodes like its samples one by one; the KV cache is exact."""

from __future__ import annotations

import pytest
import torch

from anyseek.model import FourM, FourMConfig, GenerationTarget, ModalityTokens, generate
from anyseek.model.fourm.inference.sampling import Sampler, _Step, empty_sequence_target


@pytest.fixture(scope="module")
def fm() -> FourM:
    torch.manual_seed(3)
    return FourM(FourMConfig.named("test_tiny")).eval()


def _rgb_inputs(batch: int) -> ModalityTokens:
    """RGB inputs whose samples show different numbers of patches (different encoder lengths)."""
    torch.manual_seed(4)
    rgb = torch.randn(batch, 3, 224, 224)
    hidden = torch.zeros(batch, 196, dtype=torch.bool)
    for b in range(batch):
        hidden[b, 40 * b :] = b > 0  # sample 0 sees all 196 patches, the others 40 and 80
    return ModalityTokens(rgb, hidden)


def _take(entry: ModalityTokens, b: int) -> ModalityTokens:
    return ModalityTokens(entry.tensor[b : b + 1], entry.input_mask[b : b + 1])


def test_chained_generation_of_a_batch_equals_its_samples_alone(fm: FourM) -> None:
    rgb = _rgb_inputs(3)
    targets = [
        GenerationTarget("tok_dinov2_global", steps=2),
        GenerationTarget("caption", num_tokens=12, cfg_scale=2.0),
    ]
    batch = generate(fm, {"rgb@224": rgb}, targets, seed=11)
    for b in range(3):
        alone = generate(fm, {"rgb@224": _take(rgb, b)}, targets, seed=11)
        assert torch.equal(
            alone["tok_dinov2_global"].tensor[0], batch["tok_dinov2_global"].tensor[b]
        )
        caption = batch["caption"]
        length = int((~caption.input_mask[b]).sum())
        assert torch.equal(alone["caption"].tensor[0], caption.tensor[b, :length])


def test_samples_with_different_target_lengths_decode_independently(fm: FourM) -> None:
    """Each sample's own end token and length count, not sample 0's."""
    lengths = (14, 5, 9)
    width = max(lengths)
    parts = []
    for n in lengths:
        e = empty_sequence_target(1, n, torch.device("cpu"))
        pad = width - n
        parts.append(
            ModalityTokens(
                torch.nn.functional.pad(e.tensor, (0, pad)),
                torch.nn.functional.pad(e.input_mask, (0, pad), value=True),
                torch.nn.functional.pad(e.target_mask, (0, pad), value=True),
            )
        )
    # the same fully visible image for every sample: this random model then never ends a caption
    # early, so each sample's own length is what stops it
    rgb = ModalityTokens(_rgb_inputs(1).tensor.expand(3, -1, -1, -1), torch.zeros(3, 196).bool())
    prepared = {"rgb@224": rgb}
    caption = ModalityTokens(
        torch.cat([p.tensor for p in parts]),
        torch.cat([p.input_mask for p in parts]),
        torch.cat([p.target_mask for p in parts]),
    )
    step = _Step("caption", "autoregressive", None, 0.0, 1.0, ("rgb@224",))
    sampler = Sampler(fm, 0.0, 0.0)
    together = sampler.autoregressive({**prepared, "caption": caption}, step, None)["caption"]
    sizes = (~together.input_mask).sum(1).tolist()
    assert len(set(sizes)) == 3  # each sample stopped at its own length
    for b, size in enumerate(sizes):
        alone = sampler.autoregressive({"rgb@224": _take(rgb, b), "caption": parts[b]}, step, None)
        assert torch.equal(alone["caption"].tensor[0], together.tensor[b, :size])


def test_cached_incremental_decoding_matches_the_full_causal_pass(fm: FourM) -> None:
    ctx = fm.encode(fm.embed_inputs({"rgb@224": _rgb_inputs(3)}))
    emb = fm.decoder_embedding("caption")
    tokens = torch.randint(5, 30_000, (3, 9))
    y = emb.token_emb(tokens) + emb.query_emb(torch.arange(9)[None])  # [3, 9, D]
    causal = torch.ones(9, 9, dtype=torch.bool).triu(1).expand(3, 9, 9)
    full = fm.decode(y, ctx, causal)
    caches = fm.new_caches()
    steps = [fm.decode(y[:, t : t + 1], ctx, caches=caches) for t in range(9)]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)
