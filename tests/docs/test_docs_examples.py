"""Every ``anyseek ...`` command and ``curl ...`` request in README.md and docs/ runs as written.

Commands run as ``python -m anyseek.cli`` in a scratch folder per page holding the files the docs
name (a.png, sketch.png, depth.png...), on a data directory of their own with a small generated
gallery indexed; requests go with the real ``curl`` to one real ``anyseek serve`` process over
another gallery (``anyseek search`` asks that server too, as it asks a running one). The docs' names
are mapped to the test's by :data:`PLACEHOLDERS`; what cannot run here is in :data:`SKIPPED` with
its reason; a command that asks first is answered by :data:`ANSWERS`. Everything else must exit 0
(``curl`` fails on an HTTP error status), so a drifted example (a renamed option, a field the API no
longer takes) fails here. The API promises the docs make beside their examples (``timings_ms`` on
every answer, the ``field`` of each documented error) are checked against the same server.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from doc_examples import DocExample, doc_examples
from PIL import Image

from anyseek.scenes import SceneSample, generate_scene
from anyseek.settings import load_settings

pytestmark = pytest.mark.slow

FIRST_SEED = 994_000  # held out from the built-in model's training seeds
GALLERY_SIZE = 16  # item ids 1-16: the docs' ids 3, 7 and 12 are among them
API_KEY = "s3cret"  # the key docs/api.md exports before starting the server
HTTP = httpx.Client(trust_env=False, timeout=60)

#: (text in the docs, what the test runs instead), applied in this order to every example
PLACEHOLDERS: tuple[tuple[str, str], ...] = (
    ("localhost:8000", "{address}"),  # the test's server
    # the create example makes a collection of its own: "photos" is the gallery (next line)
    ('{"name": "photos"}', '{"name": "albums"}'),
    ("photos", "scenes"),  # the docs' collection: the test's gallery, on the server and the CLI
    ("~/Pictures", "{images}"),  # the gallery's image folder
    ("--like 42", "--like 3"),  # an item of the 16-item gallery
    ("jobs show 7", "jobs show 1"),  # the job that indexed the CLI's gallery
    # the same options on fewer scenes: the docs' sizes take minutes to hours
    ("--n 20000", "--n 8"),
    ("--n 2000 ", "--n 8 "),
    ("--n 1000", "--n 16"),
    ("~/.anyseek/demo/scenes/gallery/depth", "scans/depth"),  # the demo's depth maps
    # indexed into the CLI's data directory (no server holds it): searched there too
    ("search -c demo-depth", "search --local -c demo-depth"),
    # the demo gallery's caption file (scene data lines) and one of its photos
    ("~/.anyseek/demo/scenes/gallery/", "scans/gallery/"),
    ("search -c demo-captions", "search --local -c demo-captions"),
)
#: (doc file, command) -> why it does not run here
SKIPPED: dict[tuple[str, str], str] = {
    ("docs/api.md", "anyseek serve --port 8000 &"): "the test's server: this, on a free port",
    ("README.md", "anyseek train default --out runs/v10"): "trains the committed model (1 h+)",
    ("README.md", "anyseek train default --out runs/v10 --resume"): "resumes that run",
    ("docs/database.md", "anyseek demo"): "2,000 scenes, then serves until stopped (tests/cli)",
    ("README.md", "anyseek calibrate --model runs/v10/bundle"): (
        "a trained run's bundle (tests/cli/test_cli_calibrate.py calibrates a model copy)"
    ),
    (
        "docs/deploy.md",
        "sudo -u postgres createuser anyseek && sudo -u postgres createdb -O anyseek anyseek",
    ): "needs the postgres superuser",
    **{
        ("docs/deploy.md", worker): "a worker serves until stopped (tests/workers, "
        "tests/deployment start theirs)"
        for worker in (
            "anyseek worker --queues writer --pool solo &",
            "anyseek worker --queues index,writer --pool solo",
            "anyseek worker --queues index --pool solo",
        )
    },
    **{
        ("docs/models.md", pull): "downloads a model from the Hugging Face hub: "
        "tests/model/families/test_model_pull.py pulls from a local stand-in for it"
        for pull in (
            "anyseek models pull open_clip:ViT-B-32/laion2b_s34b_b79k",
            "anyseek models pull open_clip:hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
        )
    },
    ("docs/deploy.md", "anyseek serve --workers 2"): (
        "serves until stopped (tests/api/test_serve_workers_process.py starts it)"
    ),
    ("docs/deploy.md", "anyseek serve --workers 1"): (
        "serves until stopped (every server test starts one process: tests/server_process.py)"
    ),
    ("docs/deploy.md", "anyseek serve --host 0.0.0.0 --port 8000"): (
        "serves until stopped on every address (tests/deployment start it on a host's)"
    ),
    **{
        ("docs/models.md", reindex): "needs the official 4M-21 weights"
        for reindex in (
            "anyseek reindex photos --model /models/EPFL-VILAB/4M-21_B",
            "anyseek reindex photos --model /models/EPFL-VILAB/4M-21_B --workers",
            "curl -X POST localhost:8000/v1/collections/photos/reindex -H 'content-type: "
            'application/json\' -d \'{"model": "/models/EPFL-VILAB/4M-21_B"}\'',
            "anyseek collections rollback photos",  # back from the re-index above
            "curl -X POST localhost:8000/v1/collections/photos/rollback",
        )
    },
    (
        "README.md",
        'anyseek search -c photos --sketch sketch.png --where "taken>=2024-06-01"',
    ): "the test's scenes have no EXIF date (tests/cli/test_cli_exif.py filters photos on it)",
    # docs/official.md's examples run on the built-in model, but for these query modalities
    **{
        ("docs/official.md", f"anyseek search -c photos {options}"): "a modality only 4M-21 takes"
        for options in (
            "--palette '[[255, 0, 0], \"#00ff00\"]'",
            '--boxes \'[["person", [0.05, 0.2, 0.4, 1.0]], ["dog", [0.5, 0.5, 0.9, 0.9]]]\'',
            '--metadata \'{"brightness": 200, "colorfulness": 80}\'',
            "--caption \"a red car\" --palette '[[200, 0, 0]]' --weight color_palette=0.5",
        )
    },
}


@dataclass(frozen=True)
class Answer:
    """What a command that asks first is told, and the exit status that then follows."""

    stdin: str
    status: int


ANSWERS: dict[str, Answer] = {
    # declined: the examples after it need the newest schema (tests/cli downgrade for real)
    "anyseek db downgrade -1": Answer("n\n", 1),
    "anyseek collections delete cats": Answer("y\n", 0),
}


@dataclass(frozen=True)
class Place:
    """Where the examples run: the scratch folder, the CLI's environment, the server's URL."""

    folder: Path
    env: dict[str, str]
    url: str

    def workdir(self, example: DocExample) -> Path:
        """The page's own scratch folder (two pages may show the same command), with the files
        the examples name."""
        folder = self.folder / example.source.split(":")[0].replace("/", "_")
        if not folder.exists():
            shutil.copytree(self.folder / "files", folder)
        return folder

    @property
    def address(self) -> str:
        """host:port of the server, as the docs write localhost:8000."""
        return self.url.removeprefix("http://")


def _web_helpers():
    """tests/web's server and gallery helpers (test folders are not packages)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
    return importlib.import_module("web_server"), importlib.import_module("web_gallery")


def _write_query_files(folder: Path, scene: SceneSample) -> None:
    """The files the examples name, made from one scene of the gallery."""
    Image.fromarray(scene.rgb).save(folder / "a.png")
    Image.fromarray(scene.rgb).save(folder / "b.jpg")
    Image.fromarray(scene.rgb).save(folder / "query.jpg")
    Image.fromarray(255 - scene.sketch).save(folder / "sketch.png")  # dark ink on paper
    Image.fromarray(scene.semseg).save(folder / "seg.png")
    Image.fromarray((scene.depth * 1000).astype(np.uint16)).save(folder / "depth.png")
    # docs/any_to_any.md's sources: a folder of depth maps, a JSONL of captions, a manifest
    for name, array in (("rgb/0001.jpg", scene.rgb), ("depth/0001.png", scene.depth * 1000)):
        (folder / name).parent.mkdir(exist_ok=True)
        Image.fromarray(array.astype(np.uint16) if name.endswith("png") else array).save(
            folder / name
        )
    (folder / "scans").mkdir()
    shutil.copytree(folder / "depth", folder / "scans" / "depth")
    (folder / "scans" / "gallery" / "rgb").mkdir(parents=True)
    Image.fromarray(scene.rgb).save(folder / "scans" / "gallery" / "rgb" / "000002.png")
    scene_line = json.dumps({"index": 2, "captions": list(scene.captions)})  # the demo's format
    (folder / "scans" / "gallery" / "captions.jsonl").write_text(scene_line + "\n")
    caption = json.dumps({"text": scene.captions[0], "key": "first"})
    (folder / "captions.jsonl").write_text(caption + "\n")
    (folder / "records.csv").write_text(
        f"key,rgb,depth,caption,room\nkitchen-01,rgb/0001.jpg,depth/0001.png,{json.dumps(scene.captions[0])}"
        ",kitchen\n"
    )


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    """One server over one gallery, a CLI data directory over another, and the scratch folder."""
    web_server, web_gallery = _web_helpers()
    scenes = [generate_scene(FIRST_SEED + i, 64) for i in range(GALLERY_SIZE)]
    root = tmp_path_factory.mktemp("docs")
    folder = root / "work"
    folder.mkdir()
    (folder / "files").mkdir()
    _write_query_files(folder / "files", scenes[5])
    cli_data = root / "cli-data"
    web_gallery.build_gallery(load_settings(data_dir=cli_data), scenes, folder / "Pictures")
    served = web_server.start_server(
        root / "served", scenes, root / "serve.log", {"ANYSEEK_API__API_KEYS": f'["{API_KEY}"]'}
    )
    server = next(served)
    assert {3, 7, 12} <= set(server.ids.values()), server.ids
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env |= {"ANYSEEK_DATA_DIR": str(cli_data), "ANYSEEK_API__URL": server.url}
    yield Place(folder, env, server.url)
    served.close()


def _as_run(example: DocExample, place: Place) -> str:
    """The example's text with the placeholders mapped and the command made runnable here."""
    context = {"address": place.address, "images": str(place.folder / "Pictures")}
    text = example.text
    for doc, ours in PLACEHOLDERS:
        for name, value in context.items():
            ours = ours.replace(f"{{{name}}}", value)
        text = text.replace(doc, ours)
    if example.kind == "curl":  # an HTTP error status fails the command
        return re.sub(r"^curl ", "curl --fail-with-body --noproxy '*' ", text)
    return re.sub(r"^anyseek ", f"{shlex.quote(sys.executable)} -m anyseek.cli ", text)


def _run(text: str, place: Place, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    """Run one command line with bash in the folder ``cwd``."""
    return subprocess.run(
        ["bash", "-c", text],
        cwd=cwd,
        env=place.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _with_cursor(text: str, place: Place, cwd: Path) -> str:
    """A ``<next_cursor>`` example with a real cursor: its own query's first page's."""
    first = re.sub(r',\s*"cursor":\s*"<next_cursor>"', "", text)
    done = _run(first, place, cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return text.replace("<next_cursor>", json.loads(done.stdout)["next_cursor"])


EXAMPLES = doc_examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.source for e in EXAMPLES])
def test_doc_example_runs(example: DocExample, place: Place) -> None:
    """The example, as written but for the placeholders, exits 0 (or as :data:`ANSWERS` says)."""
    reason = SKIPPED.get((example.source.split(":")[0], example.key))
    if reason:
        pytest.skip(reason)
    text, cwd = _as_run(example, place), place.workdir(example)
    if "<next_cursor>" in text:
        text = _with_cursor(text, place, cwd)
    answer = ANSWERS.get(example.key, Answer("", 0))
    done = _run(text, place, cwd, answer.stdin)
    assert done.returncode == answer.status, (
        f"{example.source}: {example.key}\nran: {text}\nexit {done.returncode}\n"
        f"stdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}"
    )


def test_the_tables_name_only_what_the_docs_show() -> None:
    """A skip, an answer or a placeholder the docs no longer show is stale: the table shrinks
    with the docs, and an example that changed runs again instead of staying skipped."""
    shown = {(e.source.split(":")[0], e.key) for e in EXAMPLES}
    assert set(SKIPPED) <= shown, set(SKIPPED) - shown
    assert set(ANSWERS) <= {key for _, key in shown}, set(ANSWERS) - {k for _, k in shown}
    texts = "\n".join(e.text for e in EXAMPLES)
    assert [doc for doc, _ in PLACEHOLDERS if doc not in texts] == []
    assert len(EXAMPLES) >= 40  # the extraction still finds the blocks


def test_a_drifted_example_fails(place: Place) -> None:
    """The check bites: an example with a renamed option or request field does not pass."""
    search = next(
        e
        for e in EXAMPLES
        if e.key.startswith("anyseek search -c photos --caption") and "--k 5" in e.text
    )
    drifted = DocExample(search.source, search.text.replace("--k 5", "--top 5"))
    assert _run(_as_run(drifted, place), place, place.workdir(search)).returncode != 0
    request = next(e for e in EXAMPLES if '"explain": true' in e.text)
    drifted = DocExample(request.source, request.text.replace('"explain"', '"explained"'))
    assert _run(_as_run(drifted, place), place, place.workdir(request)).returncode != 0


def _search(place: Place, body: dict, collection: str = "scenes") -> httpx.Response:
    """POST a JSON search to the test's server."""
    return HTTP.post(f"{place.url}/v1/collections/{collection}/search", json=body)


CAPTION = [{"modality": "caption", "text": "a red cube"}]
STAGES = {"transform", "model", "store", "fuse", "total"}


def test_every_search_answer_carries_its_stage_timings(place: Place) -> None:
    """docs/search.md: every result carries ``timings_ms``, explain or not (batch entries too)."""
    plain = _search(place, {"parts": CAPTION, "k": 5})
    assert plain.status_code == 200, plain.text
    assert plain.json()["explanation"] is None
    assert set(plain.json()["timings_ms"]) >= STAGES, plain.json()
    batch = HTTP.post(
        f"{place.url}/v1/collections/scenes/search/batch",
        json={"queries": [{"parts": CAPTION, "k": 3}]},
    )
    assert set(batch.json()["results"][0]["result"]["timings_ms"]) >= STAGES, batch.text


def _other_querys_cursor(place: Place) -> str:
    """A cursor of another query than the caption one."""
    first = _search(place, {"parts": [{"modality": "caption", "text": "a blue sphere"}], "k": 2})
    return first.json()["next_cursor"]


def _problems(place: Place) -> list[tuple[str, httpx.Response, int, str]]:
    """(what, answer, documented status, documented field) of each error docs/api.md shows."""
    base64 = [{"modality": "sketch", "data": "not base64!"}]
    return [
        ("bad base64", _search(place, {"parts": base64}), 422, "body.parts[0].data"),
        (
            "another query's cursor",
            _search(place, {"parts": CAPTION, "cursor": _other_querys_cursor(place)}),
            400,
            "body.cursor",
        ),
        (
            "unknown space",
            _search(place, {"parts": CAPTION, "spaces": {"nope": 1}}),
            404,
            "body.spaces",
        ),
        ("k over the cap", _search(place, {"parts": CAPTION, "k": 100_000}), 422, "body.k"),
        (
            "offset over the cap",
            _search(place, {"parts": CAPTION, "offset": 100_000}),
            422,
            "body.offset",
        ),
        (
            "k over the cap, multipart",
            HTTP.post(
                f"{place.url}/v1/collections/scenes/search/upload",
                data={"caption": "a red cube", "params": json.dumps({"k": 100_000})},
            ),
            422,
            "body.params.k",
        ),
    ]


def test_documented_errors_name_their_field(place: Place) -> None:
    """docs/api.md's errors answer with the status and the ``field`` it names."""
    for what, answer, status, field in _problems(place):
        body = answer.json()
        assert (answer.status_code, body.get("field")) == (status, field), (what, body)


def test_a_bad_batch_entry_names_its_field_under_its_place(place: Place) -> None:
    """docs/api.md: a bad query of a batch fails its entry alone, its ``field`` prefixed by
    ``queries[i].``."""
    queries = [
        {"parts": CAPTION, "k": 2},
        {"parts": CAPTION, "cursor": _other_querys_cursor(place)},
        {"parts": [{"modality": "sketch", "data": "not base64!"}]},
        {"parts": CAPTION, "spaces": {"nope": 1}},
        {"parts": [{"modality": "smell", "text": "a red cube"}]},
    ]
    answer = HTTP.post(f"{place.url}/v1/collections/scenes/search/batch", json={"queries": queries})
    assert answer.status_code == 200, answer.text
    entries = answer.json()["results"]
    assert entries[0]["status"] == 200
    fields = [(e["status"], e["error"]["field"]) for e in entries[1:]]
    assert fields == [
        (400, "body.queries[1].cursor"),
        (422, "body.queries[2].parts[0].data"),
        (404, "body.queries[3].spaces"),
        (422, "body.queries[4].parts[0].modality"),
    ], entries
