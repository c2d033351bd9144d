"""The retrieval alignment term: vectors decoded as search decodes them, and a loss that learns."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from model.fourm.batch import ModalityTokens
from model.train.alignment import (
    Alignment,
    AlignmentConfig,
    alignment_losses,
    predicted_vectors,
)
from model.train.global_tokenizers import (
    GlobalTokenizerConfig,
    save_global_tokenizer,
    train_global_tokenizer,
)
from model.train.step import StepOptions

SPACES = ("tok_clip_global", "tok_dino_global")


def _vectors(n: int, dim: int = 48, seed: int = 0) -> torch.Tensor:
    """Unit vectors in a low-rank subspace, like teacher embeddings."""
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(n, 6, generator=g) @ torch.randn(6, dim, generator=g)
    return torch.nn.functional.normalize(raw, dim=-1)


def _decoders(folder, dim: int = 48) -> dict:
    """Untrained global tokenizers with the registry's codebook (what the FM heads predict),
    loaded the way the pipeline loads them for training."""
    from model.tokenizers import load_vq_tokenizer

    config = GlobalTokenizerConfig(
        width=32, steps=60, batch_size=64, codebook_size=8192, live_codes=32, lr=3e-3
    )
    out = {}
    for i, space in enumerate(SPACES):
        torch.manual_seed(i)
        vectors = _vectors(400, dim, seed=i)
        tok = train_global_tokenizer(vectors, config)
        out[space] = load_vq_tokenizer(save_global_tokenizer(tok, folder / space))
        out[space].requires_grad_(False)
    return out


def _model():
    from model.fourm.network import FourM
    from model.train.fm_train import FMTrainConfig

    config = FMTrainConfig(dim=32, encoder_depth=1, decoder_depth=1, num_heads=2)
    torch.manual_seed(0)
    return FourM(config.fourm_config(SPACES)).eval(), config


def test_predicted_vectors_are_what_search_computes(tmp_path) -> None:
    from model.inference.predict import encode_inputs, predict_space_embeddings

    model, _ = _model()
    decoders = _decoders(tmp_path)
    rgb = torch.randn(3, 3, 64, 64)
    search = predict_space_embeddings(model, {"rgb@64": rgb}, decoders, decode="expected")
    with torch.no_grad():
        ctx, _ = encode_inputs(model, {"rgb@64": rgb})
        trained = predicted_vectors(model, ctx, decoders)
    for space in SPACES:
        torch.testing.assert_close(trained[space], search[space].vectors, atol=1e-5, rtol=1e-5)


def test_alignment_term_adds_to_the_masked_loss_and_pulls_vectors_to_their_anchors(
    tmp_path, tiny_training_set
) -> None:
    from model.train.fm_train import make_batch, masked_loss

    model, config = _model()
    model.train()
    decoders = _decoders(tmp_path)
    anchors = {s: _vectors(400, seed=i)[:8] for i, s in enumerate(SPACES)}
    batch = make_batch(tiny_training_set, torch.arange(8), config, torch.Generator().manual_seed(0))
    align = Alignment(anchors, decoders, AlignmentConfig(weight=0.5, temperature=0.1))
    base, _ = masked_loss(model, batch, live=32)
    total, parts = masked_loss(model, batch, live=32, align=align)
    aligned = [parts[f"align_{s}"] for s in SPACES]
    assert total.item() == pytest.approx(base.item() + 0.5 * sum(aligned) / 2, rel=1e-5)

    def align_loss() -> float:
        from model.train.objective import target_segments

        with torch.no_grad():
            ctx, _ = target_segments(model, batch)
            losses = alignment_losses(model, ctx, anchors, decoders, 0.1, live=32)
        return float(torch.stack(list(losses.values())).mean())

    before = align_loss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(40):
        loss, _ = masked_loss(model, batch, live=32, align=replace(align))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert align_loss() < before - 0.3  # each prediction moved towards its own scene's anchor
    assert all(p.grad is None for d in decoders.values() for p in d.parameters())  # frozen


def test_packed_step_adds_the_same_alignment_term_as_the_reference_loss(
    tmp_path, tiny_training_set
) -> None:
    from model.train.fm_train import PackedStepBatches, StepBatches, masked_loss
    from model.train.packed import packed_loss

    model, config = _model()
    config = replace(config, batch_size=8, align=AlignmentConfig(weight=0.7, temperature=0.1))
    data = replace(
        tiny_training_set, anchors={s: _vectors(16, seed=i) for i, s in enumerate(SPACES)}
    )
    tensors, soft, anchors = StepBatches(data, config, seed=0)[2]
    packed, packed_soft, packed_anchors = PackedStepBatches(data, config, seed=0)[2]
    decoders = _decoders(tmp_path)
    batch = {name: ModalityTokens(*parts) for name, parts in tensors.items()}
    reference, parts = masked_loss(
        model, batch, 32, soft, Alignment(anchors, decoders, config.align)
    )
    got, got_parts = packed_loss(
        model, packed, 32, packed_soft, Alignment(packed_anchors, decoders, config.align)
    )
    torch.testing.assert_close(got, reference, atol=1e-5, rtol=1e-5)
    for space in SPACES:
        assert got_parts[f"align_{space}"].item() == pytest.approx(
            parts[f"align_{space}"], abs=1e-5
        )


def test_training_with_alignment_needs_anchors_and_decoders(tmp_path, tiny_training_set) -> None:
    from model.train.fm_train import FMTrainConfig, train_fm

    config = FMTrainConfig(
        dim=32,
        encoder_depth=1,
        decoder_depth=1,
        num_heads=2,
        steps=2,
        batch_size=8,
        align=AlignmentConfig(weight=1.0),
    )
    with pytest.raises(ValueError, match="tokenizer"):
        train_fm(tiny_training_set, config, tmp_path / "s.pt", live=32)
    with pytest.raises(ValueError, match="anchors"):
        train_fm(
            tiny_training_set, config, tmp_path / "s.pt", live=32, decoders=_decoders(tmp_path)
        )
    data = replace(
        tiny_training_set,
        anchors={s: torch.nn.functional.normalize(torch.randn(16, 48), dim=-1) for s in SPACES},
    )
    seen: list[dict] = []
    train_fm(
        data,
        config,
        tmp_path / "t.pt",
        live=32,
        decoders=_decoders(tmp_path),
        progress=lambda step, info: seen.append(info),
        options=StepOptions(log_every=1),
    )
    assert len(seen) == 2 and all("align_tok_dino_global" in info for info in seen)


def test_a_recipe_can_align_some_spaces_only() -> None:
    from model.train.fm_train import FMTrainConfig
    from model.train.recipe import build_config

    config = build_config(
        FMTrainConfig, {"align": {"weight": 0.5, "spaces": ["tok_dino_global"]}}, "fm"
    )
    assert config.align == AlignmentConfig(weight=0.5, spaces=("tok_dino_global",))
    assert config.align.aligned("tok_dino_global") and not config.align.aligned("tok_clip_global")
    assert AlignmentConfig().aligned("tok_clip_global")  # empty: every space
