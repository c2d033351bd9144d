"""Recipe hooks for human-style training samples: a recipe's ``human`` section adds a person's
drawings of a share of the training scenes beside the originals, read as search reads them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from anyseek.errors import SettingsError
from model.data.human import HumanStyle
from model.data.synonyms import SYNONYMS
from model.data.tensors import SceneTensors
from model.train.human_augment import HUMAN_CAPTION_SLOT, HumanAugmentConfig, human_split
from model.train.pipeline import Run, stage_data
from model.train.recipe import load_recipe

N_TRAIN = 12


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, dict]:
    """The data stage of a tiny recipe with half its scenes drawn again, twice, by a person."""
    style = HumanStyle(stroke_widths=(4, 4), p_horizon=0.0, p_synonym=1.0)
    config = replace(
        load_recipe("ci"),
        n_train=N_TRAIN,
        n_gallery=4,
        workers=1,
        human=HumanAugmentConfig(share=0.5, copies=2, style=style),
    )
    run = Run(config, tmp_path_factory.mktemp("human_run"))
    return run, stage_data(run)


def _tail(scenes: SceneTensors, start: int) -> SceneTensors:
    """The scenes from ``start`` on."""
    cut = {
        k: v[start:] if isinstance(v, torch.Tensor | list) else v for k, v in vars(scenes).items()
    }
    return SceneTensors(**cut)


def test_human_copies_sit_beside_the_originals(run: tuple[Run, dict]) -> None:
    run, metrics = run
    scenes = SceneTensors.load(run.out / "tensors" / "train.pt")
    extra = len(scenes) - N_TRAIN
    assert extra > 0 and extra % 2 == 0  # two drawings of each chosen scene
    assert metrics["n_train_human"] == extra
    originals, human = scenes.head(N_TRAIN), _tail(scenes, N_TRAIN)
    by_seed = {seed: i for i, seed in enumerate(originals.seeds)}
    for j, seed in enumerate(human.seeds):
        i = by_seed[seed]  # a copy of a training scene: same image, a person's queries
        assert torch.equal(human.rgb[j], originals.rgb[i])
        assert not torch.equal(human.sketch[j], originals.sketch[i])
        assert human.captions[j][0] == originals.captions[i][0]  # object list kept
        assert human.captions[j][HUMAN_CAPTION_SLOT] != originals.captions[i][HUMAN_CAPTION_SLOT]
        words = set(human.captions[j][HUMAN_CAPTION_SLOT].split())
        assert not (words & set(SYNONYMS))  # synonyms mapped, as search maps them
    assert set(torch.unique(human.semseg).tolist()) <= set(range(7))  # palette classes only


def test_parallel_drawing_gives_the_serial_copies(run: tuple[Run, dict]) -> None:
    run, _ = run
    config, root = run.config.human, run.out / "scenes"
    serial = human_split(root, "train", config, seed=1, workers=1, chunk=2)
    parallel = human_split(root, "train", config, seed=1, workers=2, chunk=2)
    assert serial.seeds == parallel.seeds and serial.captions == parallel.captions
    assert torch.equal(serial.sketch, parallel.sketch)
    assert torch.equal(serial.semseg, parallel.semseg)


def test_the_recipe_section_builds_its_style_and_refuses_typos(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    human = {"share": 0.3, "style": {"stroke_widths": [2, 6], "p_horizon": 0.1}}
    path.write_text(json.dumps({"human": human}))
    config = load_recipe(path).human
    assert config.share == 0.3 and config.style.stroke_widths == (2, 6)
    assert config.style.p_horizon == 0.1 and config.style.canvas == HumanStyle().canvas
    path.write_text(json.dumps({"human": {"style": {"stroke_width": 3}}}))
    with pytest.raises(SettingsError, match=r"human\.style: unknown key"):
        load_recipe(path)
    with pytest.raises(ValueError, match="share"):
        HumanAugmentConfig(share=1.5)
