"""The committed built-in model reads what people give it: sketches, misspelt captions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from anyseek.model.families.interface import SearchModel


def _caption(model: SearchModel, text: str) -> np.ndarray:
    x = model.query_modalities["caption"].transform(text)
    return model.embed_query({"caption": x})["bind"].vector


def test_a_misspelt_caption_means_what_it_meant(search_model: SearchModel) -> None:
    typo = _caption(search_model, "a smal rde cueb")
    meant = "a small red cube"
    near = [
        meant,
        "a large red cube",
        "a small red sphere",
        "a small blue cube",
        "a large blue sphere",
    ]
    closeness = {text: float(_caption(search_model, text) @ typo) for text in near}
    assert max(closeness, key=closeness.__getitem__) == meant  # nearer than one word changed
    assert closeness[meant] > closeness["a large blue sphere"] + 0.1


def test_only_words_the_model_cannot_read_are_warned_about(search_model: SearchModel) -> None:
    warn = search_model.query_modalities["caption"].warnings
    assert warn("a teal pyramid with a red cube on the floor") == []
    assert warn("a red cube with stripes") == ['unknown word "stripes"']


def test_words_it_cannot_read_are_left_out_not_read_as_noise(search_model: SearchModel) -> None:
    plain = _caption(search_model, "a small red cube")
    asked = _caption(search_model, "please find me a small red cube, burgundy")
    np.testing.assert_array_equal(asked, plain)  # "please", "find", "burgundy" add nothing
    misspelt = _caption(search_model, "a small turqoise cube")  # misspelt: read by spelling
    assert not np.array_equal(misspelt, _caption(search_model, "a small cube"))
    warn = search_model.query_modalities["caption"].warnings
    assert warn("a small turqoise cube, burgundy") == [
        'unknown word "turqoise" (read like "turquoise")',
        'unknown word "burgundy"',
    ]


@pytest.mark.slow
def test_sketches_find_their_scenes(search_model: SearchModel) -> None:
    from anyseek.scenes.sample import generate_scene
    from anyseek.scenes.synth import scene_seed

    scenes = [generate_scene(scene_seed(424_000, i), 64) for i in range(40)]
    images = torch.stack([search_model.image_input(Image.fromarray(s.rgb)) for s in scenes])
    index = search_model.embed_images(images)["bind"]
    sketch = search_model.query_modalities["sketch"].transform
    found = [
        search_model.embed_query({"sketch": sketch(Image.fromarray(s.sketch))})["bind"].vector
        for s in scenes
    ]
    top = (np.stack(found) @ index.T).argmax(1)
    assert (top == np.arange(len(scenes))).mean() >= 0.8


def test_the_precision_setting_is_honoured_by_the_builtin_model() -> None:
    from precision_check import check_precision_honoured

    from anyseek.scenes.sample import generate_scene
    from anyseek.settings import ModelSettings

    photos = [Image.fromarray(generate_scene(9_100 + seed, 64).rgb) for seed in range(4)]
    check_precision_honoured(ModelSettings(source="builtin"), photos)
