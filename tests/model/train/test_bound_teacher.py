"""The bound visual teacher: towers bound to rgb, and the pipeline's dino space built from it."""

from __future__ import annotations

import pytest
import torch

from model.train.bound_teacher import BoundTeacher, BoundTeacherConfig, train_bound_teacher

TINY = BoundTeacherConfig(
    modalities=("sketch", "depth"), widths=(8, 16), embed_dim=16, steps=150, batch_size=16, lr=3e-3
)


def test_unknown_or_no_bound_modalities_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty subset"):
        BoundTeacher(BoundTeacherConfig(modalities=()))
    with pytest.raises(ValueError, match="caption"):
        BoundTeacher(BoundTeacherConfig(modalities=("caption",)))


def test_training_binds_each_modality_to_its_own_image(tiny_training_set) -> None:
    from model.train.specialist import embed, info_nce

    scenes = tiny_training_set.scenes
    losses: list[float] = []
    model = train_bound_teacher(scenes, TINY, progress=lambda step, loss: losses.append(loss))
    assert len(losses) == TINY.steps
    assert sum(losses[-6:]) / 6 < sum(losses[:6]) / 6 - 0.5  # both modalities, round robin
    rgb = embed(model.rgb, scenes, "rgb")
    for modality in TINY.modalities:
        query = embed(model.towers[modality], scenes, modality)
        matched = (query @ rgb.t()).argmax(1) == torch.arange(len(scenes))
        assert matched.float().mean() > 0.5  # far above 1/16: its own scene's image is nearest
        shuffled = info_nce(query, rgb.roll(1, 0), model.log_scale)
        assert info_nce(query, rgb, model.log_scale) < shuffled


def test_pipeline_dino_space_comes_from_the_bound_rgb_tower_and_resumes(
    tmp_path, tiny_training_set
) -> None:
    from model.train.pipeline import PipelineConfig, Run, _dino_embeddings

    run = Run(PipelineConfig(bind=TINY), tmp_path)
    scenes = tiny_training_set.scenes
    first = _dino_embeddings(run, scenes)
    assert first.shape == (len(scenes), TINY.embed_dim)
    torch.testing.assert_close(first.norm(dim=-1), torch.ones(len(scenes)))
    assert (tmp_path / "teachers" / "bound.pt").is_file()
    assert not (tmp_path / "teachers" / "dino.pt").exists()  # no SimCLR teacher was trained
    torch.testing.assert_close(_dino_embeddings(run, scenes), first)  # reloaded, not retrained
