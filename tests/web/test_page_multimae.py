"""The page over a MultiMAE collection (tiny random weights): the item view shows the depth and
segmentation the model predicted at index time, and explain shows those of the query image."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from page_drawing import result_ids, search, shoot
from PIL import Image
from web_server import Server, check_watch, start_server, watched_context, watched_page

from anyseek.model.families.multimae import MultiMAE, MultiMAEConfig, save_multimae
from anyseek.scenes import SceneSample, generate_scene

SEEDS = range(993_000, 993_004)


@pytest.fixture(scope="module")
def mmae_server(tmp_path_factory: pytest.TempPathFactory, artefacts: Path) -> Iterator[Server]:
    """``anyseek serve`` with a tiny random-weight MultiMAE over a few generated scenes."""
    folder = tmp_path_factory.mktemp("web-mmae")
    torch.manual_seed(0)
    model = MultiMAE(MultiMAEConfig.named("test_multimae_tiny"))
    checkpoint = save_multimae(model, folder / "multimae.safetensors")
    scenes: list[SceneSample] = [generate_scene(seed, 64) for seed in SEEDS]
    env = {"ANYSEEK_MODEL__SOURCE": str(checkpoint)}
    yield from start_server(folder, scenes, artefacts / "server-multimae.log", env)


@pytest.fixture
def mmae_page(browser, mmae_server: Server):
    """A fresh page that may reach nothing but the MultiMAE server and may raise no error."""
    context, watch = watched_context(
        browser, mmae_server.url, viewport={"width": 1280, "height": 1500}
    )
    page = watched_page(context, watch)
    yield page
    context.close()
    check_watch(watch)


def _loaded(page, selector: str) -> tuple[int, int]:
    """The natural size of a loaded image on the page."""
    page.wait_for_function(
        f"(() => {{ const i = document.querySelector({selector!r}); "
        "return i && i.complete && i.naturalWidth > 0; })()"
    )
    return tuple(page.eval_on_selector(selector, "i => [i.naturalWidth, i.naturalHeight]"))


def test_explain_and_item_view_show_what_multimae_sees(
    mmae_page, mmae_server: Server, artefacts: Path, tmp_path: Path
) -> None:
    page, scene = mmae_page, mmae_server.scenes[1]
    path = tmp_path / "query.png"
    Image.fromarray(scene.rgb).save(path)
    page.goto(mmae_server.url)
    page.wait_for_selector("body[data-ready='1']")
    page.set_input_files("#image-file", str(path))
    page.wait_for_selector("#image-preview:not([hidden])")
    page.check("#explain")
    search(page)
    assert mmae_server.ids[scene.seed] == result_ids(page)[0]
    for kind in ("depth", "semseg"):
        assert _loaded(page, f"#explain-seen img[alt^='{kind}']") == (128, 128)
    scores = page.inner_text("#explain-scores")  # MultiMAE has no relevance calibration
    assert "no relevance calibration" in scores and "0 to 1" not in scores, scores
    shoot(page, artefacts, "20-multimae-explain")

    page.click("#grid li:first-child button")
    page.wait_for_selector("#item-view[open]")
    page.wait_for_selector("#item-seen:not([hidden])")
    size = mmae_server.settings.indexer.thumbnail_size
    assert _loaded(page, "#item-depth") == _loaded(page, "#item-semseg") == (size, size)
    shoot(page, artefacts, "21-multimae-item-view")
