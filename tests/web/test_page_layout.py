"""The page at phone width with a finger, and with the keyboard alone."""

from __future__ import annotations

from pathlib import Path

from page_drawing import result_ids, search, shoot
from web_server import check_watch, watched_context, watched_page


def test_phone_width_and_touch_drawing(browser, server, artefacts: Path) -> None:
    context, watch = watched_context(
        browser,
        server.url,
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
    )
    page = watched_page(context, watch)
    try:
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='1']")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a phone"

        # a finger stroke across the sketch pad (touch events, as a phone sends them)
        page.locator("#sketch").scroll_into_view_if_needed()
        box = page.locator("#sketch").bounding_box()
        cdp = context.new_cdp_session(page)
        y = box["y"] + box["height"] / 2
        xs = [box["x"] + box["width"] * f for f in (0.2, 0.35, 0.5, 0.65, 0.8)]
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": "touchStart", "touchPoints": [{"x": xs[0], "y": y}]},
        )
        for x in xs[1:]:
            cdp.send(
                "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
            )
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        inked = page.locator("#sketch").evaluate(
            """(c) => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 0; i < d.length; i += 4) n += d[i] < 128;
                return n;
            }"""
        )
        assert inked > 200, inked
        assert page.evaluate("window.scrollY") > 0 or box["y"] < 844  # the page did not jump
        page.fill("#caption", server.scenes[0].captions[0])
        search(page)
        assert len(result_ids(page)) == 24
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"with results the page is {overflow}px wider than a phone"
        shoot(page, artefacts, "15-phone")
    finally:
        context.close()
    check_watch(watch)


def test_keyboard_only(page, server, artefacts: Path) -> None:
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"

    # the drop zone answers Enter and Space by opening the (multiple) file chooser; the chooser
    # itself is held back here, as headless Chromium opens it only now and then
    page.eval_on_selector(
        "#upload-file",
        """(input) => input.addEventListener('click', (e) => {
            e.preventDefault();
            document.body.dataset.chooser = Number(document.body.dataset.chooser || 0) + 1;
        })""",
    )
    page.focus("#drop")
    page.keyboard.press("Enter")
    page.keyboard.press(" ")
    assert page.evaluate("document.body.dataset.chooser") == "2"
    assert page.get_attribute("#upload-file", "multiple") is not None

    page.focus("#caption")
    page.keyboard.type(server.scenes[2].captions[0])
    page.keyboard.press("Enter")
    page.wait_for_function("Number(document.body.dataset.searched || 0) >= 1")

    # results are buttons: Enter opens the item view, Escape closes it
    page.focus("#grid li:first-child button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#item-view[open]")
    shoot(page, artefacts, "16-keyboard-item-view")
    page.keyboard.press("Escape")
    page.wait_for_selector("#item-view:not([open])", state="attached")
    # the focus goes back to the result it came from
    page.wait_for_function("document.activeElement.closest('#grid li') !== null")

    # every control can take the focus: nothing interactive is out of the tab order
    unreachable = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, canvas, [role=button]')]
              .filter((e) => e.offsetParent !== null && e.tabIndex < 0 && !e.hidden)
              .map((e) => e.id || e.outerHTML.slice(0, 60))"""
    )
    assert not unreachable, unreachable
