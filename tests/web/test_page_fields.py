"""Filters and near-duplicates on the page: filter rows built from a collection's own fields (an
operator suited to each kind, dates as date inputs) narrow the results and travel in the shared
link; the duplicates view lists a re-encoded copy beside its original."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from page_drawing import result_ids, search, shoot
from PIL import Image

SHOP = "shop"  # uploaded with metadata, apart from the shared gallery
DUPES = "dupes"
SHOP_SIZE = 8


@pytest.fixture(scope="module", autouse=True)
def _remove_collections(server):
    """Delete this module's collections afterwards: the page opens on a server's collections,
    and the other browser tests expect the shared gallery's alone."""
    yield
    for name in (SHOP, DUPES):
        httpx.delete(f"{server.url}/v1/collections/{name}", timeout=60)


#: the shop's GET .../fields held until the test releases it, and flags for what happened: it was
#: asked, the gallery's fields answered (count), the shop's answer parsed and every reaction to
#: it run (a timer set then fires after the promise callbacks that follow the parse)
HELD_SHOP_FIELDS = """
window.scenesFieldsAnswered = 0;
const released = new Promise((release) => { window.releaseShopFields = release; });
const realFetch = window.fetch;
window.fetch = async (url, ...rest) => {
  if (String(url).endsWith("/shop/fields")) {
    window.shopFieldsAsked = true;
    await released;
  }
  return realFetch(url, ...rest);
};
const realJson = Response.prototype.json;
Response.prototype.json = function () {
  const parsed = realJson.call(this);
  if (this.url.endsWith("/scenes/fields")) parsed.then(() => { window.scenesFieldsAnswered += 1; });
  if (this.url.endsWith("/shop/fields"))
    parsed.then(() => setTimeout(() => { window.shopFieldsHandled = true; }));
  return parsed;
};
"""


def _png(rgb) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


def _metadata(n: int) -> dict[str, object]:
    """Item n's own fields: a price, sold or not, colour tags and the day it was taken."""
    return {
        "price": 5 * n,
        "sold": n % 2 == 0,
        "tags": ["red"] if n % 3 == 0 else ["blue"],
        "taken": f"2024-03-{n + 1:02d}",
    }


def _upload(server, collection: str, files: list[tuple[str, bytes]], metadata=None) -> None:
    """Index files into a collection through the API and wait for the job to finish."""
    data = {"metadata": json.dumps(metadata)} if metadata is not None else {}
    answer = httpx.post(
        f"{server.url}/v1/collections/{collection}/items",
        params={"wait": "true"},
        files=[("files", (name, body, "application/octet-stream")) for name, body in files],
        data=data,
        timeout=120,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "succeeded", answer.json()


def _shop(server) -> dict[str, dict[str, object]]:
    """The shop collection (created once per server): file name -> its metadata."""
    names = {f"shop{n}.png": _metadata(n) for n in range(SHOP_SIZE)}
    known = httpx.get(f"{server.url}/v1/collections/{SHOP}", timeout=10)
    if known.status_code == 404:
        files = [(f"shop{n}.png", _png(server.scenes[n].rgb)) for n in range(SHOP_SIZE)]
        _upload(server, SHOP, files, [_metadata(n) for n in range(SHOP_SIZE)])
    return names


def _open(page, server, collection: str) -> None:
    """Load the page and choose ``collection``; return once the filter rows offer its fields
    (until its GET .../fields is answered they offer the first collection's, whose add button
    is already enabled: a row added then lacks this collection's fields)."""
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#collection", collection)
    page.wait_for_selector(f"#filters[data-collection='{collection}'] #filter-add:not([disabled])")


def _add(page, field: str, op: str) -> str:
    """Add a condition row on ``field`` with ``op``; returns the new row's selector."""
    page.click("#filter-add")
    row = f"#filter-rows .filter-row:nth-child({page.locator('.filter-row').count()})"
    page.select_option(f"{row} .filter-field", field)
    page.select_option(f"{row} .filter-op", op)
    return row


def _ops(page, row: str) -> list[str]:
    return page.eval_on_selector_all(f"{row} .filter-op option", "os => os.map(o => o.value)")


def _names(page) -> list[str]:
    return page.eval_on_selector_all("#grid li img", "els => els.map(e => e.alt)")


def test_filter_rows_follow_field_kinds_and_narrow_results(page, server, artefacts: Path) -> None:
    meta = _shop(server)
    bodies: list[dict] = []
    page.on(
        "request",
        lambda r: bodies.append(r.post_data_json) if r.url.endswith(f"{SHOP}/search") else None,
    )
    _open(page, server, SHOP)
    # choices come from GET .../fields: own fields and the indexer's, each with its kind
    assert page.locator(".filter-row").count() == 0  # no condition until one is asked for
    price = _add(page, "price", "range")
    fields = page.eval_on_selector_all(
        f"{price} .filter-field option", "os => os.map(o => o.value)"
    )
    assert {"price", "sold", "tags", "taken", "ext", "bytes"} <= set(fields)
    assert _ops(page, price) == ["range", "equals", "exists"]
    page.fill(f"{price} .filter-value", "10")
    page.fill(f"{price} .filter-to", "30")
    sold = _add(page, "sold", "equals")
    assert _ops(page, sold) == ["equals", "exists"]
    assert page.locator(f"{sold} select.filter-value").count() == 1  # true / false
    page.select_option(f"{sold} .filter-value", "true")
    taken = _add(page, "taken", "range")
    assert _ops(page, taken) == ["range", "exists"]
    assert page.get_attribute(f"{taken} .filter-value", "type") == "date"
    page.fill(f"{taken} .filter-value", "2024-03-02")
    tags = _add(page, "tags", "any_of")
    page.fill(f"{tags} .filter-value", "red|blue")
    page.fill("#caption", server.scenes[2].captions[0])
    search(page)
    shoot(page, artefacts, "40-filters")

    assert bodies[-1]["filter"] == {
        "ranges": {"price": {"gte": 10, "lte": 30}, "taken": {"gte": "2024-03-02"}},
        "equals": {"sold": True},
        "any_of": {"tags": ["red", "blue"]},
    }
    wanted = {
        name
        for name, m in meta.items()
        if 10 <= m["price"] <= 30 and m["sold"] and m["taken"] >= "2024-03-02"
    }
    assert wanted and sorted(_names(page)) == sorted(wanted)

    # the shared link holds the conditions: a reload rebuilds the rows and the same results
    assert "#q=" in page.url
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("Number(document.body.dataset.searched || 0) >= 1")
    assert page.locator(".filter-row").count() == 4
    assert page.input_value(f"{price} .filter-to") == "30"
    assert page.input_value(f"{taken} .filter-value") == "2024-03-02"
    assert sorted(_names(page)) == sorted(wanted)
    assert bodies[-1]["filter"] == bodies[-2]["filter"]

    # removing conditions widens the results; exists keeps those with a value (all here)
    for _ in range(3):
        page.click(".filter-row:last-child .filter-remove")
    page.select_option(f"{price} .filter-op", "exists")
    assert page.locator(f"{price} input").count() == 0
    search(page)
    assert bodies[-1]["filter"] == {"exists": ["price"]}
    assert len(result_ids(page)) == SHOP_SIZE


def test_incomplete_condition_is_explained_not_sent(page, server) -> None:
    _shop(server)
    _open(page, server, SHOP)
    row = _add(page, "price", "equals")
    page.fill("#caption", server.scenes[0].captions[0])
    page.click("#search")
    page.wait_for_selector("#status.error")
    assert "filter on price: give a value" in page.inner_text("#status")
    page.fill(f"{row} .filter-value", "15")
    search(page)
    assert _names(page) == ["shop3.png"]


def test_a_late_answer_for_a_collection_left_does_not_replace_the_chosen_ones_fields(
    page, server
) -> None:
    """The shop chosen, then the gallery while the shop's fields are still on their way: once the
    shop's answer has come and been handled, the rows still offer the gallery's fields."""
    _shop(server)
    page.add_init_script(HELD_SHOP_FIELDS)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#collection", SHOP)
    page.wait_for_function("window.shopFieldsAsked === true")
    answered = page.evaluate("window.scenesFieldsAnswered")
    page.select_option("#collection", "scenes")
    page.wait_for_function(f"window.scenesFieldsAnswered > {answered}")
    page.evaluate("window.releaseShopFields()")
    page.wait_for_function("window.shopFieldsHandled === true")
    assert page.get_attribute("#filters", "data-collection") == "scenes"
    page.click("#filter-add")
    offered = page.eval_on_selector_all(".filter-field option", "os => os.map(o => o.value)")
    assert "ext" in offered and "price" not in offered


def test_duplicates_view_lists_a_copy_with_its_original(page, server, artefacts: Path) -> None:
    original, other = server.scenes[3].rgb, server.scenes[9].rgb
    copy = io.BytesIO()
    Image.fromarray(original).save(copy, format="JPEG", quality=70)
    _upload(
        server,
        DUPES,
        [("first.png", _png(original)), ("other.png", _png(other))],
    )
    _upload(server, DUPES, [("copy.jpg", copy.getvalue())])
    _open(page, server, DUPES)
    page.click("#show-duplicates")
    page.wait_for_selector("#duplicates-view[data-loaded]")
    shoot(page, artefacts, "41-duplicates")
    groups = page.locator("#duplicates-body .dup-group")
    assert groups.count() == 1, page.inner_text("#duplicates-body")
    alts = groups.first.locator("img").evaluate_all("els => els.map(e => e.alt)")
    assert alts == ["first.png", "copy.jpg"]
    assert "1 group" in page.inner_text("#duplicates-status")
    page.wait_for_function(
        "[...document.querySelectorAll('#duplicates-body img')].every(i => i.naturalWidth > 0)"
    )
    page.click("#duplicates-view button[value='close']")
    assert not page.is_visible("#duplicates-view")

    # the shared gallery holds no copies: the view says so
    page.select_option("#collection", "scenes")
    page.click("#show-duplicates")
    page.wait_for_function("document.querySelector('#duplicates-view').dataset.loaded === '2'")
    assert page.inner_text("#duplicates-status") == "No near-duplicates in scenes."
