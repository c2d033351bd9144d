"""Named open_clip models pulled from a local stand-in for the hub (tests/fake_hub.py), then
served with no network: a tiny model the test makes is pulled by its ``hf-hub:`` name and indexed
and searched with the hub gone; a pretrained tag is pulled from the repo open_clip's table names
and listed as cached; a typo lists the valid names; no network is said within 5 s."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fake_hub import FakeHub, closed_port, serve
from PIL import Image
from tiny_clip import need_open_clip

open_clip = need_open_clip()

from anyseek.cli import main  # noqa: E402
from anyseek.model.families.interface import ModelError  # noqa: E402
from anyseek.model.families.registry import load_search_model  # noqa: E402

pytestmark = pytest.mark.clip
REPO = "anyseek/tiny-clip"
NAME = f"open_clip:hf-hub:{REPO}"
TAG = "ViT-B-32/laion2b_s34b_b79k"
TAG_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"  # where open_clip's table says it is


@pytest.fixture
def data_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The families' fresh data directory (../conftest.py), on the CPU, the hub reachable by
    default."""
    from huggingface_hub import constants

    monkeypatch.setenv("ANYSEEK_MODEL__DEVICE", "cpu")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return data_dir


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub at a port where nothing listens: every request is refused."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")


def test_a_pulled_model_is_indexed_and_searched_with_no_network(
    tiny_folder: Path, data_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from huggingface_hub import constants

    files = {p.name: p.read_bytes() for p in tiny_folder.iterdir()}
    files["README.md"] = b"---\nlicense: mit\n---\n"
    with serve(FakeHub(repos={REPO: files})) as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        assert main(["models", "pull", NAME]) == 0
    _no_network(monkeypatch)
    monkeypatch.setenv("ANYSEEK_MODEL__SOURCE", NAME)
    from anyseek.settings import load_settings

    start = time.monotonic()
    served = load_search_model(load_settings().model)
    assert time.monotonic() - start < 30
    assert served.version == load_search_model(str(tiny_folder)).version  # the same weights
    assert "released under 'mit'" in capsys.readouterr().err  # the card came with the pull

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (40, 30), (220, 30, 30)).save(photos / "red.png")
    Image.new("RGB", (30, 50), (90, 160, 250)).save(photos / "sky.png")
    assert main(["db", "upgrade"]) == 0
    assert main(["index", str(photos), "-c", "photos"]) == 0
    capsys.readouterr()
    assert main(["search", "-c", "photos", "--caption", "a red wall", "--local"]) == 0
    out = capsys.readouterr().out
    assert "red.png" in out and "sky.png" in out


def test_a_tag_is_pulled_from_the_repo_open_clip_names(data_dir, monkeypatch, capsys) -> None:
    from huggingface_hub import constants

    weights = os.urandom(50_000)  # what the stand-in serves as the tag's weights
    with serve(FakeHub(repos={TAG_REPO: {"open_clip_model.safetensors": weights}})) as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        assert main(["models", "pull", TAG]) == 0  # the open_clip: prefix may be left out
    assert "open_clip_model.safetensors" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    cached, offered = out.split("open_clip offers")
    assert f"open_clip:{TAG}" in cached and TAG_REPO in cached
    assert f"open_clip:{TAG}  (cached)" in offered and "open_clip:ViT-B-16/openai\n" in offered


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("ViT-B-32/laion2b_typo", "its tags: openai, laion400m_e31"),
        ("ViT-B-3/openai", "knows no architecture 'ViT-B-3' (close: ViT-B-16"),
        ("open_clip:ViT-B-32", "names no weights"),
    ],
)
def test_a_typo_lists_the_valid_names(name: str, said: str, data_dir, capsys) -> None:
    assert main(["models", "pull", name]) == 1
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_a_tag_with_no_network_says_so_within_5_s(data_dir: Path, monkeypatch) -> None:
    from anyseek.settings import ModelSettings

    _no_network(monkeypatch)
    settings = ModelSettings(source=f"open_clip:{TAG}", device="cpu", cache=str(data_dir))
    start = time.monotonic()
    with pytest.raises(ModelError) as error:
        load_search_model(settings)
    assert time.monotonic() - start < 5
    message = str(error.value)
    assert "cannot be reached, no network?" in message and "has none of" not in message
    assert f"anyseek models pull open_clip:{TAG}" in message


def test_a_first_load_with_network_downloads_checks_and_keeps_the_files(
    tiny_folder: Path, data_dir: Path, monkeypatch, capsys
) -> None:
    from huggingface_hub import constants

    from anyseek.settings import load_settings

    files = {p.name: p.read_bytes() for p in tiny_folder.iterdir()}
    files["README.md"] = b"---\nlicense: apache-2.0\n---\n"
    monkeypatch.setenv("ANYSEEK_MODEL__SOURCE", NAME)
    with serve(FakeHub(repos={REPO: files})) as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        first = load_search_model(load_settings().model)  # no pull: the load fetches them
    assert "released under 'apache-2.0'" in capsys.readouterr().err
    assert first.version == load_search_model(str(tiny_folder)).version
    _no_network(monkeypatch)  # and keeps them: the next load needs no network
    assert load_search_model(load_settings().model).version == first.version
