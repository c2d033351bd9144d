"""What a first-time user hit (issue 28), checked in the browser: explain beside the results
however far they scroll, counts that match the grid, "New query" resets, a liked result pinned as
the query, relevance on every tile, class names on the segmentation, readable item details, the
weight slider inside its part, and the layout at 1280x900 and 390x844 (screenshots)."""

from __future__ import annotations

from pathlib import Path

import pytest
from page_drawing import paint_segmentation, result_ids, search, shoot
from web_server import check_watch, watched_context, watched_page

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _open(browser, server, size: str):
    """A watched page of the given size on the server, ready."""
    extra = {"has_touch": True, "is_mobile": True} if size == "phone" else {}
    context, watch = watched_context(browser, server.url, viewport=SIZES[size], **extra)
    page = watched_page(context, watch)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    return context, watch, page


def _overlap(a: dict, b: dict) -> bool:
    """Whether two bounding boxes intersect."""
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("size", list(SIZES))
def test_layout_counts_explain_and_reset(browser, server, artefacts: Path, size: str) -> None:
    context, watch, page = _open(browser, server, size)
    try:
        scene = server.scenes[3]
        shoot(page, artefacts, f"30-{size}-empty")
        if "semseg" in page.evaluate("[...document.querySelectorAll('.part')].map(p => p.id)+''"):
            page.locator("#semseg").scroll_into_view_if_needed()
            bar = page.locator(".query > .actions").bounding_box()
            canvas = page.locator("#semseg").bounding_box()
            assert not _overlap(bar, canvas), (bar, canvas)  # the bar hides no part of it
            paint_segmentation(page, scene.semseg)
            labels = page.locator("#part-semseg .seg-label").all_inner_texts()
            assert labels and set(labels) <= {
                "floor",
                "cube",
                "sphere",
                "cylinder",
                "cone",
                "torus",
            }
        page.fill("#caption", scene.captions[0])
        assert page.locator("#part-caption > .weight").count() == 1  # the slider in its part
        assert page.locator("#caption").evaluate("e => e.rows") >= 3
        page.check("#explain")
        page.select_option("#page-size", "12")
        search(page)
        shoot(page, artefacts, f"31-{size}-results")
        # the count is what the grid shows: no second page loaded by itself
        shown = len(result_ids(page))
        assert shown == 12 and page.inner_text("#status").startswith(f"{shown} results shown")
        # relevance on every tile, in [0, 1]
        relevance = [float(t) for t in page.locator("#grid .score").all_inner_texts()]
        assert all(0 <= r <= 1 for r in relevance) and relevance == sorted(relevance, reverse=True)
        # explain: beside the results, reachable after scrolling through every page
        assert page.is_visible("#explain-panel")
        page.click("#explain-close")
        for _ in range(3):
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_timeout(300)
        page.locator("#show-explain").click()
        assert page.is_visible("#explain-panel") and page.locator("#explain-body").is_visible()
        assert "How the query was read" in page.inner_text("#explain-body")
        assert "relevance (0 to 1)" in page.inner_text("#explain-scores")  # calibrated
        shoot(page, artefacts, f"32-{size}-explain")
        page.click("#explain-close")
        # "New query": nothing left of the last search
        page.click("#reset")
        assert page.locator("#grid li").count() == 0
        assert page.inner_text("#status") == "Build a query and press Search."
        assert page.is_hidden("#explain-panel") and page.is_disabled("#show-explain")
        assert page.input_value("#caption") == "" and "#q=" not in page.url
        shoot(page, artefacts, f"33-{size}-new-query")
    finally:
        context.close()
    check_watch(watch)


def test_liked_result_is_pinned_and_details_read_well(page, server, artefacts: Path) -> None:
    page.set_viewport_size(SIZES["desktop"])
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    page.fill("#caption", server.scenes[5].captions[0])
    search(page)
    first = result_ids(page)[0]
    page.click("#grid li:first-child button")
    page.wait_for_selector("#item-view[open]")
    details = page.inner_text("#item-payload")
    assert "size" in details and "modified" in details
    assert page.is_hidden("#item-raw-body")  # the hash behind "technical details"
    page.click("#item-raw summary")
    assert "sha256" in page.inner_text("#item-raw-body")
    assert page.locator("#item-seen figure:not([hidden])").count() == 0  # no previews asked
    shoot(page, artefacts, "34-item-details")
    before = int(page.evaluate("document.body.dataset.searched"))
    page.click("#item-add")
    page.wait_for_function(f"Number(document.body.dataset.searched) > {before}")
    assert page.is_visible("#pinned")
    assert f"item {first}: your query" in page.inner_text("#pinned")
    assert "your query" in page.inner_text("#status")
    shoot(page, artefacts, "35-pinned")
    # "not like this" gets the measured, gentler default weight
    page.click("#grid li:first-child button")
    page.wait_for_selector("#item-view[open]")
    before = int(page.evaluate("document.body.dataset.searched"))
    page.click("#item-unlike")
    page.wait_for_function(f"Number(document.body.dataset.searched) > {before}")
    assert "-0.75 not like this" in page.inner_text("#like-list")
