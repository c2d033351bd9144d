"""Fixtures of the open_clip family's tests: tiny models made here (see ``tiny_clip``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_clip import ARCH, TINY, save_model


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny open_clip model folder (config + weights)."""
    return save_model(tmp_path_factory.mktemp("clip") / "tiny-clip", seed=0)


@pytest.fixture(scope="session")
def tiny_arch(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny config registered with open_clip as an architecture (``add_model_config``)."""
    import open_clip

    path = tmp_path_factory.mktemp("arch") / f"{ARCH}.json"
    path.write_text(json.dumps(TINY))
    open_clip.add_model_config(path)
    return ARCH


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No download is even tried (as with HF_HUB_OFFLINE=1)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
