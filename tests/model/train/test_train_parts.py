"""Unit tests of the built-in model's training parts: masking, text, global tokenizers, teachers."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from model.train.global_tokenizers import (
    GlobalTokenizerConfig,
    center_normalize,
    save_global_tokenizer,
    tokenizer_quality,
    train_global_tokenizer,
)
from model.train.masking import MaskingConfig, sample_masks
from model.train.objective import training_logits
from model.train.text import special_tokens, train_wordpiece


def _valid(batch: int = 8) -> dict[str, torch.Tensor]:
    lengths = torch.tensor([5, 9, 12, 3, 20, 7, 15, 11])[:batch]
    return {
        "rgb": torch.ones(batch, 16, dtype=torch.bool),
        "sketch": torch.ones(batch, 16, dtype=torch.bool),
        "caption": torch.arange(20)[None] < lengths[:, None],
        "tok_a": torch.ones(batch, 16, dtype=torch.bool),
        "tok_b": torch.ones(batch, 16, dtype=torch.bool),
    }


@pytest.mark.parametrize("p_full", [0.0, 1.0])
def test_masking_budgets_and_disjoint_inputs_targets(p_full: float) -> None:
    valid = _valid()
    config = MaskingConfig(input_budget=24, target_budget=20, alpha=0.5, p_full_single=p_full)
    masks = sample_masks(
        valid,
        ["rgb", "sketch", "caption"],
        ["tok_a", "tok_b"],
        config,
        torch.Generator().manual_seed(0),
        ordered=("caption",),
    )
    given = sum((~masks[m].input_mask & valid[m]).sum(1) for m in ("rgb", "sketch", "caption"))
    shown = {m: (~masks[m].input_mask).sum(1) for m in ("rgb", "sketch", "caption")}
    if p_full == 0.0:
        assert (given == 24).all()  # every sample uses its whole input budget
    else:  # exactly one whole modality per sample
        for b in range(8):
            counts = [int(shown[m][b]) for m in ("rgb", "sketch", "caption")]
            assert sorted(c > 0 for c in counts) == [False, False, True]
            assert max(counts) in (16, int(valid["caption"][b].sum()))
    predicted = sum((~masks[m].target_mask).sum(1) for m in ("tok_a", "tok_b"))
    assert (predicted == 20).all()
    for m in ("tok_a", "tok_b"):  # targets are never encoder inputs
        assert masks[m].input_mask.all()
    # hidden padding is never given, captions are shown as a prefix
    assert not (~masks["caption"].input_mask & ~valid["caption"]).any()
    cap = ~masks["caption"].input_mask
    assert (cap.int().diff(dim=1) <= 0).all()


def test_masking_is_deterministic_by_seed_and_varies_per_sample() -> None:
    valid, config = _valid(), MaskingConfig(input_budget=12, p_full_single=0.0)
    a = sample_masks(valid, ["rgb", "sketch"], ["tok_a"], config, torch.Generator().manual_seed(3))
    b = sample_masks(valid, ["rgb", "sketch"], ["tok_a"], config, torch.Generator().manual_seed(3))
    assert torch.equal(a["rgb"].input_mask, b["rgb"].input_mask)
    per_sample = (~a["rgb"].input_mask).sum(1)
    assert len(set(per_sample.tolist())) > 1  # Dirichlet budgets differ between samples


def test_wordpiece_follows_the_official_special_token_layout() -> None:
    from model.tokenizers.text import TextTokenizer

    captions = ["A small red metal cube and a blue ball.", "Two cones behind a green torus."] * 20
    tok = train_wordpiece(captions, vocab_size=300)
    specials = special_tokens()
    assert [tok.token_to_id(t) for t in specials[:7]] == [0, 1, 2, 3, 4, 5, 6]
    assert tok.token_to_id("[S_199]") == 203
    text = TextTokenizer(tok)  # the model's loader accepts it (it checks the special ids)
    batch = text.caption_batch(["a red cube", "two blue balls behind a cone"])
    assert batch.ids[0, 3] == 3 and batch.ids[0, 4:].eq(0).all()  # ids, [EOS], [PAD]
    assert text.decode(batch.ids[1]) == "two blue balls behind a cone"


def test_global_tokenizer_round_trips_through_the_official_loader(tmp_path) -> None:
    from model.tokenizers import load_vq_tokenizer

    g = torch.Generator().manual_seed(0)
    raw = torch.randn(400, 6, generator=g) @ torch.randn(6, 48, generator=g) + 3.0
    vectors = center_normalize(raw, raw.mean(0))
    config = GlobalTokenizerConfig(
        width=32, steps=60, batch_size=64, codebook_size=512, live_codes=32, lr=3e-3
    )
    untrained = tokenizer_quality(
        train_global_tokenizer(
            vectors, GlobalTokenizerConfig(width=32, steps=0, codebook_size=512, live_codes=32)
        ),
        vectors,
    )
    tok = train_global_tokenizer(vectors, config)
    quality = tokenizer_quality(tok, vectors)
    assert quality["reconstruction_cosine"] > untrained["reconstruction_cosine"] + 0.1
    tokens = tok.encode(vectors)
    assert tokens.shape == (400, 16) and int(tokens.max()) < 32  # only live codes are used
    loaded = load_vq_tokenizer(save_global_tokenizer(tok, tmp_path / "tok"))
    assert torch.equal(loaded.encode(vectors).reshape(400, -1), tokens)
    torch.testing.assert_close(loaded.decode(tokens), tok.decode(tokens), atol=1e-5, rtol=1e-5)


def test_teachers_train_and_embed() -> None:
    from model.train.teachers import (
        ClipTeacherConfig,
        VisualTeacherConfig,
        clip_image_embeddings,
        clip_text_embeddings,
        train_clip_teacher,
        train_visual_teacher,
        visual_embeddings,
    )

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=g)
    ids = torch.randint(10, 60, (16, 2, 8), generator=g)
    ids[:, :, 6], ids[:, :, 7] = 3, 0
    losses: list[float] = []
    clip = train_clip_teacher(
        images,
        ids,
        ClipTeacherConfig(
            image_size=32,
            vision_width=32,
            vision_layers=1,
            text_width=32,
            text_layers=1,
            embed_dim=16,
            steps=8,
            batch_size=16,
            lr=3e-3,
        ),
        vocab_size=64,
        progress=lambda s, loss: losses.append(loss),
    )
    assert losses[-1] < losses[0]  # memorising 16 pairs: the contrastive loss must drop
    assert clip_image_embeddings(clip, images).shape == (16, 16)
    assert clip_text_embeddings(clip, ids[:, 0]).shape == (16, 16)
    visual = train_visual_teacher(
        images, VisualTeacherConfig(widths=(8, 16), steps=2, batch_size=8)
    )
    emb = visual_embeddings(visual, images)
    assert emb.shape == (16, 16) and torch.isfinite(emb).all()


def test_fm_training_matches_fourm_forward_and_resumes(tmp_path, tiny_training_set) -> None:
    import torch.nn.functional as F

    from model.fourm.network import FourM
    from model.train.fm_train import FMTrainConfig, make_batch, masked_loss, train_fm
    from model.train.step import StepOptions

    data = tiny_training_set
    config = FMTrainConfig(
        dim=32,
        encoder_depth=1,
        decoder_depth=1,
        num_heads=2,
        steps=4,
        batch_size=8,
        checkpoint_every=2,
    )
    model = FourM(config.fourm_config(tuple(data.targets)))
    batch = make_batch(data, torch.arange(8), config, torch.Generator().manual_seed(0))
    reference = torch.stack(
        [
            F.cross_entropy(t.logits[t.valid], t.labels[t.valid])
            for t in training_logits(model, batch).values()
        ]
    ).mean()
    torch.testing.assert_close(masked_loss(model, batch)[0], reference)

    state = tmp_path / "state.pt"
    every = StepOptions(log_every=1)
    first: list[int] = []
    train_fm(
        data, config, state, progress=lambda step, info: first.append(step), live=32, options=every
    )
    assert first == [0, 1, 2, 3]
    resumed: list[int] = []
    longer = dataclasses.replace(config, steps=6)
    fm = train_fm(
        data,
        longer,
        state,
        progress=lambda step, info: resumed.append(step),
        live=32,
        options=every,
    )
    assert resumed == [4, 5]  # continued after the saved step instead of starting over
    head = fm.decoder_embedding("tok_clip_global").to_logits.weight
    assert torch.equal(head[32:64], head[:32])  # rows past the live codes tie to live rows


def test_soft_labels_of_one_hot_codes_give_the_official_loss(tiny_training_set) -> None:
    import torch.nn.functional as F

    from model.fourm.network import FourM
    from model.train.fm_train import FMTrainConfig, make_batch, masked_loss

    data = tiny_training_set
    config = FMTrainConfig(dim=32, encoder_depth=1, decoder_depth=1, num_heads=2)
    model = FourM(config.fourm_config(tuple(data.targets)))
    batch = make_batch(data, torch.arange(8), config, torch.Generator().manual_seed(0))
    soft = {name: F.one_hot(t[:8], 32).float() for name, t in data.targets.items()}
    hard, _ = masked_loss(model, batch, live=32)
    torch.testing.assert_close(masked_loss(model, batch, live=32, soft=soft)[0], hard)
    blurred = {name: (q + 0.5).softmax(-1) for name, q in soft.items()}  # not one-hot any more
    assert not torch.allclose(masked_loss(model, batch, live=32, soft=blurred)[0], hard)
