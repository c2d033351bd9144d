"""A new user's first session with a real ``anyseek serve`` process: started on a new data
directory with no ``anyseek db upgrade``, it creates its database; a filter value of the wrong
kind for its field is a 400 naming the field and the kind expected (over HTTP and through
``anyseek search --server``), and caption warnings name content words, never function words."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import ANYSEEK, COLLECTION, HTTP, free_port, png_bytes, start_serve

from anyseek.scenes import SceneSample

pytestmark = pytest.mark.slow
PRICES = [5, 10, 15, 20, 25, 30]
CAPTION = "a red cube with a blue sphere and a green cone on the left"
GLUE = "a red cube near a blue sphere, under it, and this cone is by the wall"


@dataclass(frozen=True)
class FirstRun:
    """The running server, its data directory and the item id of each price."""

    url: str
    data_dir: Path
    by_price: dict[int, int]


@pytest.fixture(scope="module")
def first_run(
    tmp_path_factory: pytest.TempPathFactory, scenes: list[SceneSample]
) -> Iterator[FirstRun]:
    """``anyseek serve`` on a data directory that does not exist yet, six scenes uploaded with
    metadata (a number, a boolean, text, a date)."""
    folder = tmp_path_factory.mktemp("first-run")
    data_dir = folder / "data"
    port = free_port()
    server = start_serve(data_dir, port, folder / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        chosen = scenes[: len(PRICES)]
        files = [("files", (f"{s.seed}.png", png_bytes(s.rgb), "image/png")) for s in chosen]
        metadata = [
            {"price": p, "sold": p > 15, "note": f"n{p}", "taken": "2024-03-05"} for p in PRICES
        ]
        upload = HTTP.post(
            f"{url}/v1/collections/{COLLECTION}/items",
            files=files,
            data={"metadata": json.dumps(metadata)},
            params={"wait": True},
        )
        assert upload.status_code == 202 and upload.json()["done"] == len(PRICES), upload.text
        items = HTTP.get(f"{url}/v1/collections/{COLLECTION}/items").json()["items"]
        yield FirstRun(url, data_dir, {i["metadata"]["price"]: i["id"] for i in items})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _search(run: FirstRun, caption: str = "a red cube", **filter: object) -> dict:
    """The server's answer (status and JSON) to a caption search with this filter."""
    body: dict = {"parts": [{"modality": "caption", "text": caption}], "k": 20}
    if filter:
        body["filter"] = filter
    response = HTTP.post(f"{run.url}/v1/collections/{COLLECTION}/search", json=body)
    return {"status": response.status_code, **response.json()}


def test_serve_creates_its_database_on_a_new_data_directory(first_run: FirstRun) -> None:
    assert (first_run.data_dir / "anyseek.db").is_file()
    ready = HTTP.get(f"{first_run.url}/readyz").json()
    assert ready["checks"]["database"]["ready"], ready


@pytest.mark.parametrize(
    ("filter", "field", "expected"),
    [
        ({"equals": {"price": "abc"}}, "price", "must be a number, got 'abc'"),
        ({"ranges": {"price": {"gte": "abc"}}}, "price", "must be a number, got 'abc'"),
        ({"any_of": {"price": [5, "ten"]}}, "price", "must be a number, got 'ten'"),
        ({"equals": {"sold": "yes"}}, "sold", "must be true or false, got 'yes'"),
        ({"equals": {"note": 5}}, "note", "must be text, got 5"),
        ({"equals": {"taken": "yesterday"}}, "taken", "must be an ISO date"),
        ({"ranges": {"note": {"gte": 1}}}, "note", "ranges compare number and date fields"),
    ],
)
def test_a_filter_of_the_wrong_kind_is_a_400_naming_field_and_kind(
    first_run: FirstRun, filter: dict, field: str, expected: str
) -> None:
    answer = _search(first_run, **filter)
    assert answer["status"] == 400, answer
    assert answer["field"] == f"body.filter.{field}"  # as for an unknown field
    assert repr(field) in answer["detail"] and expected in answer["detail"], answer["detail"]


def test_an_unknown_operator_is_a_422_naming_it(first_run: FirstRun) -> None:
    answer = _search(first_run, ranges={"price": {"ne": 5}})
    assert answer["status"] == 422, answer
    assert answer["field"] == "body.filter.ranges.price.ne", answer
    both = _search(first_run, ranges={"price": {"gt": 5, "gte": 6}})  # two lower bounds
    assert both["status"] == 422 and "give gte or gt, not both" in both["detail"], both


def test_filters_of_the_right_kind_still_select(first_run: FirstRun) -> None:
    def found(**filter: object) -> set[int]:
        answer = _search(first_run, **filter)
        assert answer["status"] == 200, answer
        return {hit["id"] for hit in answer["hits"]}

    ids = first_run.by_price
    assert found(ranges={"price": {"gte": 12, "lte": 22}}) == {ids[15], ids[20]}
    assert found(equals={"sold": False, "taken": "2024-03-05"}) == {ids[5], ids[10], ids[15]}
    assert found(any_of={"note": ["n25", "n30"]}) == {ids[25], ids[30]}


def _cli_search(first_run: FirstRun, *where: str) -> subprocess.CompletedProcess:
    """``anyseek search --server URL`` as a user runs it, with these ``--where`` conditions."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env["ANYSEEK_DATA_DIR"] = str(first_run.data_dir)
    args = [a for w in where for a in ("--where", w)]
    command = [str(ANYSEEK), "search", "-c", COLLECTION, "--caption", "a red cube", *args]
    return subprocess.run(
        [*command, "--server", first_run.url, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("price=abc", "price is a number field, so the value must be a number, got 'abc'"),
        ("price>=abc", "price is a number field, so the value must be a number, got 'abc'"),
        ("sold=maybe", "sold is a boolean field, so the value must be true or false"),
        ("note<=3", "note is a string field and ranges compare number and date fields"),
        ("price<>5", "unknown operator '<>' after 'price'"),
        ("price==5", "unknown operator '==' after 'price'"),
        ("price!=5", "unknown operator '!=' after 'price'"),
    ],
)
def test_the_cli_refuses_the_same_filters_in_one_line(
    first_run: FirstRun, where: str, expected: str
) -> None:
    done = _cli_search(first_run, where)
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and expected in line, line


def test_the_cli_filters_through_the_server(first_run: FirstRun) -> None:
    done = _cli_search(first_run, "price>=12", "price<=22")
    assert done.returncode == 0, done.stderr
    ids = first_run.by_price
    assert {hit["id"] for hit in json.loads(done.stdout)["hits"]} == {ids[15], ids[20]}


def test_caption_warnings_name_content_words_not_function_words(first_run: FirstRun) -> None:
    for caption in (CAPTION, GLUE):
        answer = _search(first_run, caption)
        assert answer["status"] == 200 and answer["warnings"] == [], (caption, answer)
    answer = _search(first_run, f"{GLUE} with stripes")
    assert answer["warnings"] == ['unknown word "stripes"']
