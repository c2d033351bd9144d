"""The training stages on a CUDA device (skipped where there is none, as in CI)."""

from __future__ import annotations

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_every_training_part_runs_on_cuda_and_returns_a_cpu_model(tiny_training_set, tmp_path):
    from model.train.fm_train import FMTrainConfig, train_fm
    from model.train.global_tokenizers import GlobalTokenizerConfig, train_global_tokenizer
    from model.train.step import StepOptions
    from model.train.teachers import (
        ClipTeacherConfig,
        VisualTeacherConfig,
        clip_image_embeddings,
        train_clip_teacher,
        train_visual_teacher,
        visual_embeddings,
    )

    data = tiny_training_set
    config = FMTrainConfig(
        dim=32, encoder_depth=1, decoder_depth=1, num_heads=2, steps=4, batch_size=8
    )
    losses: list[float] = []
    fm = train_fm(
        data,
        config,
        tmp_path / "state.pt",
        progress=lambda step, info: losses.append(info["loss"]),
        device="cuda",
        live=32,
        workers=2,
        options=StepOptions(log_every=1, tf32=True),
    )
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    assert next(fm.parameters()).device.type == "cpu"

    images = data.scenes.rgb
    clip = train_clip_teacher(
        images,
        data.caption_ids,
        ClipTeacherConfig(
            embed_dim=16,
            vision_width=32,
            vision_layers=1,
            text_width=32,
            text_layers=1,
            steps=2,
            batch_size=8,
        ),
        vocab_size=300,
        device="cuda",
    )
    visual = train_visual_teacher(
        images, VisualTeacherConfig(widths=(8, 16), steps=2, batch_size=8), device="cuda"
    )
    assert clip_image_embeddings(clip.cuda(), images).device.type == "cpu"
    vectors = visual_embeddings(visual.cuda(), images)
    assert vectors.shape == (16, 16) and torch.isfinite(vectors).all()
    tokenizer = train_global_tokenizer(
        torch.nn.functional.normalize(vectors, dim=-1),
        GlobalTokenizerConfig(width=16, steps=3, batch_size=8, codebook_size=64, live_codes=16),
        device="cuda",
    )
    assert tokenizer.encode(vectors).max() < 16
