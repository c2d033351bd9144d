"""A new user's path through the demo's own files, as real processes: the demo gallery's caption
file is a caption source as it is, and a search's table names what each hit is (its modalities,
its key, a caption's text), with ``--json`` carrying the same note on relevance as the table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from server_process import cli, process_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """A data directory after the smallest ``anyseek demo --no-serve``, with its environment."""
    data = tmp_path_factory.mktemp("demo") / "data"
    env = process_env(data, ANYSEEK_INDEXER__FLUSH_INTERVAL_S="0")
    cli(env, "demo", "--no-serve", "--n", "10", "--queries", "5")
    return env, data / "demo" / "scenes" / "gallery"


def test_the_demo_gallerys_caption_file_is_a_caption_source(demo) -> None:
    env, gallery = demo
    indexed = cli(
        env, "index", str(gallery / "captions.jsonl"), "-c", "caps", "--modality", "caption"
    )
    assert indexed.startswith("job 3 succeeded: 10 indexed, 0 failed"), indexed
    first = json.loads((gallery / "captions.jsonl").read_text().splitlines()[2])["captions"][0]
    image = str(gallery / "rgb" / "000002.png")
    table = cli(env, "search", "-c", "caps", "--image", image, "--k", "3", "--local")
    header, top = table.splitlines()[:2]
    assert header.split()[-3:] == ["modalities", "key", "caption"], table
    cells = re.split(r"\s{2,}", top)
    assert cells[-3:] == ["caption", "scene 2", first], table  # the photo finds its caption
    note = next(line for line in table.splitlines() if line.startswith("note: "))
    answer = json.loads(cli(env, "search", "-c", "caps", "--image", image, "--json", "--local"))
    assert answer["relevance_note"] == note.removeprefix("note: "), answer["relevance_note"]
    assert answer["hits"][0]["payload"]["key"] == "scene 2"


def test_a_photo_collections_table_names_modalities_and_key(demo) -> None:
    env, gallery = demo
    caption = json.loads((gallery / "captions.jsonl").read_text().splitlines()[4])["captions"][0]
    table = cli(env, "search", "-c", "demo", "--caption", caption, "--k", "2", "--local")
    header, top = table.splitlines()[:2]
    assert header.split()[-2:] == ["modalities", "key"], table  # no caption column for photos
    assert re.split(r"\s{2,}", top)[-2:] == ["rgb", "000004.png"], table
