"""Relevance of a model without a calibration (issue #39 item 8), seen by a client of a real
``anyseek serve`` and by the CLI: the official 4M-21 and MultiMAE test checkpoints have no
``relevance.json``, so their hits carry no relevance (null, not a cosine squeezed into 0..1), each
answer says why once (``relevance_note``), and a minimum relevance is refused with a 422 naming
the field."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import png_bytes
from live_server import HTTP, Live, serve_scenes, server_env
from server_process import cli

from anyseek.model.families.official.synthetic import write_tokenizer
from anyseek.model.families.registry import load_search_model
from anyseek.scenes import SceneSample
from anyseek.settings import ModelSettings

FOURM_TOKENIZERS = {
    "tokenizer_DINOv2-B14-global": "4M_tokenizers_DINOv2-B14-global_8k_16_224",
    "tokenizer_depth_divae": "4M_tokenizers_depth_8k_224-448",
    "tokenizer_semseg": "4M_tokenizers_semseg_4k_224-448",
}
SCENES = 4
NOTE = "no relevance calibration"


@dataclass
class Uncalibrated:
    """A served collection indexed with an uncalibrated model, and the environment of its CLI."""

    live: Live
    env: dict[str, str]
    query: Path  # a scene's PNG, to search by


def _fourm_settings(root: Path, fixtures: Path) -> dict[str, str]:
    """The 4M-21 test FM with its tokenizers laid out as a user downloads them."""
    tokenizers = root / "tokenizers"
    for fixture, repo in FOURM_TOKENIZERS.items():
        shutil.copytree(fixtures / fixture / "hub", tokenizers / repo)
    write_tokenizer("tok_imagebind_global", tokenizers)  # the fixtures have none
    return {"MODEL__SOURCE": str(fixtures / "fm"), "MODEL__TOKENIZERS": str(tokenizers)}


@pytest.fixture(scope="module", params=["fourm", "multimae"])
def uncalibrated(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    scenes: list[SceneSample],
) -> Iterator[Uncalibrated]:
    root = tmp_path_factory.mktemp(f"uncalibrated-{request.param}")
    if request.param == "fourm":
        settings = _fourm_settings(root, request.getfixturevalue("fourm_fixtures"))
    else:
        checkpoint = request.getfixturevalue("multimae_fixtures") / "checkpoint"
        settings = {"MODEL__SOURCE": str(checkpoint / "model.safetensors")}
    source = ModelSettings(
        source=settings["MODEL__SOURCE"], tokenizers=settings.get("MODEL__TOKENIZERS"), device="cpu"
    )
    model = load_search_model(source)
    query = root / "query.png"
    query.write_bytes(png_bytes(scenes[0].rgb))
    settings |= {"MODEL__DEVICE": "cpu"}
    for live in serve_scenes(root, model, scenes[:SCENES], **settings):
        env = server_env(live.data_dir, STORE__EXACT_THRESHOLD="100000", **settings)
        yield Uncalibrated(live, env, query)


def _search(live: Live, query: Path, **params: object) -> dict:
    """POST a JSON search by image; the response as JSON with its status."""
    body = {"parts": [{"modality": "image", "data": base64.b64encode(query.read_bytes()).decode()}]}
    response = HTTP.post(f"{live.url}/v1/collections/scenes/search", json=body | params)
    return {"status": response.status_code, **response.json()}


def test_hits_carry_no_relevance_and_the_answer_says_why_once(uncalibrated: Uncalibrated) -> None:
    found = _search(uncalibrated.live, uncalibrated.query, k=SCENES)
    assert found["status"] == 200, found
    assert len(found["hits"]) == SCENES
    assert all(hit["relevance"] is None for hit in found["hits"])
    assert NOTE in found["relevance_note"] and "anyseek calibrate" in found["relevance_note"]
    assert all("relevance_note" not in hit for hit in found["hits"])
    model = HTTP.get(f"{uncalibrated.live.url}/v1/model").json()
    assert model["relevance_note"] == found["relevance_note"]


def test_min_relevance_is_refused_naming_the_field(uncalibrated: Uncalibrated) -> None:
    live, query = uncalibrated.live, uncalibrated.query
    refused = _search(live, query, min_relevance=0.5)
    assert refused["status"] == 422, refused
    assert refused["field"] == "body.min_relevance" and NOTE in refused["detail"]
    upload = HTTP.post(
        f"{live.url}/v1/collections/scenes/search/upload",
        files={"image": ("query.png", query.read_bytes(), "image/png")},
        data={"params": '{"min_relevance": 0.5}'},
    )
    assert upload.status_code == 422, upload.text
    assert upload.json()["field"] == "body.params.min_relevance"
    image = {"modality": "image", "data": base64.b64encode(query.read_bytes()).decode()}
    batch = HTTP.post(
        f"{live.url}/v1/collections/scenes/search/batch",
        json={"queries": [{"parts": [image], "min_relevance": 0.5}, {"parts": [image]}]},
    ).json()["results"]
    assert [entry["status"] for entry in batch] == [422, 200]
    assert batch[0]["error"]["field"] == "body.queries[0].min_relevance"
    assert _search(live, query, min_score=-1.0)["status"] == 200  # the raw score still filters


def test_the_cli_shows_no_relevance_and_the_note_once(uncalibrated: Uncalibrated) -> None:
    args = ("search", "-c", "scenes", "--image", str(uncalibrated.query), "--k", "3")
    for where in (("--server", uncalibrated.live.url), ("--local",)):
        out = cli(uncalibrated.env, *args, *where)
        lines = out.splitlines()
        assert lines[0].split()[:3] == ["rank", "id", "score"], out
        notes = [line for line in lines if line.startswith("note: ")]
        assert len(notes) == 1 and NOTE in notes[0], out
