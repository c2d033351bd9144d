"""bench/levers.py's arms: each is the default recipe with its lever on, and the v10 draft's arm
is the draft recipe made short (the arms measure what a full run would train)."""

from __future__ import annotations

from dataclasses import replace

from bench.levers import ARMS, arm_recipe
from workbench.recipe import load_recipe


def test_the_v10_draft_arm_is_the_draft_recipe_made_short() -> None:
    base, draft = load_recipe("default"), load_recipe("v10-draft")
    arm = arm_recipe(base, "v10_draft", 600, 50, 1.0)
    short = replace(
        draft,
        name="lever-v10_draft",
        data=replace(draft.data, scenes=600),
        train=replace(draft.train, steps=50, chunk_minutes=1.0),
    )
    assert arm == short


def test_each_v10_lever_arm_switches_on_its_lever_only() -> None:
    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 50, 1.0)
    boxed = arm_recipe(base, "content_box", 600, 50, 1.0)
    assert boxed.data.input_settings["sketch"]["content_box"] is True
    assert replace(boxed, name=short.name, data=short.data) == short
    for arm, field in (("cross_pairs", "cross_weight"), ("cells", "cell_weight")):
        on = arm_recipe(base, arm, 600, 50, 1.0)
        assert getattr(on.train, field) > 0 == getattr(short.train, field)
    captions = arm_recipe(base, "cross_captions", 600, 50, 1.0).train.cross_pairs
    assert {b for _, b in captions} == {"depth", "normal", "semseg", "sketch", "edges"}
    assert {f"{a}_seed1" for a in ("content_box", "cross_pairs", "v10_draft")} <= set(ARMS)


def test_the_cells_cross_arm_is_the_v10_draft_arm_measured_before_the_draft_took_it() -> None:
    base = load_recipe("default")
    draft = arm_recipe(base, "v10_draft", 600, 50, 1.0)
    measured = arm_recipe(base, "cells_cross", 600, 50, 1.0)
    assert measured.data == arm_recipe(base, "base", 600, 50, 1.0).data  # no content box
    assert measured.train == draft.train  # the cell head and every cross pair
    assert not draft.data.input_settings


def test_a_content_box_arm_renders_its_own_sets_and_other_arms_reuse_theirs() -> None:
    import hashlib
    import json
    from dataclasses import asdict

    from bench.levers import render_key

    base = arm_recipe(load_recipe("default"), "base", 600, 50, 1.0)
    boxed = arm_recipe(load_recipe("default"), "content_box", 600, 50, 1.0)
    data = {k: v for k, v in asdict(base.data).items() if k != "input_settings"}
    for part, section in (("cache", data), ("val", asdict(base.val))):
        before = json.dumps([part, section, 64], sort_keys=True)  # the key before input settings
        assert render_key(part, base) == hashlib.sha1(before.encode()).hexdigest()[:12]
        assert render_key(part, boxed) != render_key(part, base)  # the gallery read boxed too


def test_the_pairs_section_shows_each_arm_s_cells_and_its_lowest_pixel_pair() -> None:
    from bench.any_to_any import GALLERIES, QUERIES
    from bench.levers import PAIRS, pairs_report

    table = {
        g: {q: [0.99, 1.0] for q in QUERIES if (q,) != kinds} for g, kinds in GALLERIES.items()
    }
    table["sketch"]["edges"] = [0.853, 0.98]
    table["caption"]["depth"] = [0.12, 0.5]  # a caption pair is not a pixel pair
    lines = pairs_report({"base": table}, 1000, 20261202)
    row = next(line for line in lines if line.startswith("| base |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "0.853 (sketch <- edges)"
    assert cells[2 + PAIRS.index(("caption", "depth"))] == "0.120"
    assert len(cells) == 2 + len(PAIRS)
