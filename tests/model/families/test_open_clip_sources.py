"""The open_clip family's parts that need no open_clip (they run in ``make test``'s venv too):
which sources are open_clip's, the model cache under the data directory, a model card's licence,
and a clear message where open-clip-torch is not installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clip_extra import open_clip_installed

from anyseek.model.families.interface import ModelError
from anyseek.model.families.open_clip.sources import card_licence, is_open_clip_source
from anyseek.model.families.registry import load_search_model


def test_which_sources_are_open_clip_models(tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    assert not is_open_clip_source(str(folder))  # a folder without the config is not
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": {}}))
    weights = folder / "epoch_3.pt"
    weights.write_bytes(b"")
    assert is_open_clip_source(str(folder)) and is_open_clip_source(str(weights))
    assert is_open_clip_source("open_clip:ViT-B-32/laion2b_s34b_b79k")
    assert is_open_clip_source("open_clip:hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")
    assert not is_open_clip_source("builtin") and not is_open_clip_source("EPFL-VILAB/4M-21_B")
    assert not is_open_clip_source(str(folder / "open_clip_config.json"))


def test_the_model_cache_is_under_the_data_directory(tmp_path: Path, monkeypatch) -> None:
    from anyseek.settings import load_settings

    monkeypatch.delenv("ANYSEEK_MODEL__CACHE", raising=False)
    assert load_settings(data_dir=tmp_path).model.cache == str(tmp_path / "models")
    monkeypatch.setenv("ANYSEEK_MODEL__CACHE", str(tmp_path / "elsewhere"))
    assert load_settings(data_dir=tmp_path).model.cache == str(tmp_path / "elsewhere")


def test_a_model_cards_licence() -> None:
    assert card_licence("---\nlicense: mit\nlibrary_name: open_clip\n---\n# x") == "mit"
    assert card_licence("---\ntags: [clip]\nlicense: 'apache-2.0'\n---\n") == "apache-2.0"
    assert card_licence("# no front matter\nlicense: mit\n") is None


@pytest.mark.skipif(open_clip_installed(), reason="open_clip is installed here")
def test_without_the_clip_extra_the_load_names_it() -> None:
    with pytest.raises(ModelError, match=r"pip install 'anyseek\[clip\]'"):
        load_search_model("open_clip:ViT-B-32/laion2b_s34b_b79k")
