"""lab/levers.py's arms: each is the shipped recipe made short with its lever on; a lever the
shipped recipe already has gives the same recipe as ``base``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from anyseek.model.builtin.bundle import load_builtin_bundle
from anyseek.model.builtin.network import BuiltinConfig
from anyseek.workbench.recipe import load_recipe
from lab.levers import ARMS, WARM_SEEDED, arm_recipe, baseline_of

#: the research's draft recipes (lab/recipes/), loaded as any recipe file is
DRAFTS = {
    p.stem: str(p) for p in (Path(__file__).resolve().parents[2] / "lab" / "recipes").glob("*.json")
}

#: the training fields a v11 draft takes from the warm arm that screened it
LEVER = ("object_rows", "object_rows_both_ways", "twin_rows", "colour_rows", "cross_second")


def test_the_base_arm_is_the_shipped_recipe_made_short() -> None:
    shipped = load_recipe("default")
    short = replace(
        shipped,
        name="lever-base",
        data=replace(shipped.data, scenes=600),
        train=replace(shipped.train, steps=50, chunk_minutes=1.0),
    )
    assert arm_recipe(shipped, "base", 600, 50, 1.0) == short


def test_the_levers_v10_shipped_are_now_the_base_arm() -> None:
    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 50, 1.0)
    for arm in ("cells", "cross_pairs", "cells_cross", "max_pool"):
        assert replace(arm_recipe(base, arm, 600, 50, 1.0), name=short.name) == short, arm
        assert "same as base" in ARMS[arm][0]


def test_the_other_v10_lever_arms_switch_on_their_lever_only() -> None:
    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 50, 1.0)
    boxed = arm_recipe(base, "content_box", 600, 50, 1.0)
    assert boxed.data.input_settings["sketch"]["content_box"] is True
    assert replace(boxed, name=short.name, data=short.data) == short
    captions = arm_recipe(base, "cross_captions", 600, 50, 1.0)
    assert {b for _, b in captions.train.cross_pairs} == {
        "depth",
        "normal",
        "semseg",
        "sketch",
        "edges",
    }
    assert replace(captions.train, cross_pairs=short.train.cross_pairs) == short.train
    assert {f"{a}_seed1" for a in ("content_box", "cross_pairs", "cells_cross")} <= set(ARMS)


def test_a_content_box_arm_renders_its_own_sets_and_other_arms_reuse_theirs() -> None:
    import hashlib
    import json
    from dataclasses import asdict

    from lab.levers import render_key

    base = arm_recipe(load_recipe("default"), "base", 600, 50, 1.0)
    boxed = arm_recipe(load_recipe("default"), "content_box", 600, 50, 1.0)
    data = {k: v for k, v in asdict(base.data).items() if k != "input_settings"}
    for part, section in (("cache", data), ("val", asdict(base.val))):
        before = json.dumps([part, section, 64], sort_keys=True)  # the key before input settings
        assert render_key(part, base) == hashlib.sha1(before.encode()).hexdigest()[:12]
        assert render_key(part, boxed) != render_key(part, base)  # the gallery read boxed too


def test_the_pairs_section_shows_each_arm_s_cells_and_its_lowest_pixel_pair() -> None:
    from lab.any_to_any import GALLERIES, QUERIES
    from lab.levers import PAIRS, pairs_report

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


def test_the_pixels_arm_is_the_shipped_network_at_96_pixels_rendered_at_96() -> None:
    from anyseek.model.builtin.network import CONFIGS, BuiltinConfig
    from anyseek.workbench.cells import CELL_PIXELS
    from lab.levers import render_key

    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 50, 1.0)
    wide = arm_recipe(base, "pixels_96", 600, 50, 1.0)
    assert (wide.model, wide.data.size) == ("max_pool_96", 96)
    assert replace(wide, name=short.name, model=short.model, data=short.data) == short
    assert replace(wide.data, size=short.data.size) == short.data
    shipped = BuiltinConfig.load(CONFIGS / f"{base.model}.json")
    larger = BuiltinConfig.load(CONFIGS / "max_pool_96.json")
    assert replace(larger, image_size=shipped.image_size) == shipped
    assert larger.grid == 96 // CELL_PIXELS == 6  # the cell head's labels fit the trunk's grid
    for part in ("cache", "val"):
        assert render_key(part, wide) != render_key(part, short)  # rendered at its own size


def test_the_pairs_of_a_96_pixel_arm_read_the_same_scenes_at_96_pixels() -> None:
    import io

    from PIL import Image

    from lab.any_to_any import scene_parts

    small, facts = scene_parts(2, 20261202)
    large, large_facts = scene_parts(2, 20261202, 96)
    for objects, large_objects in zip(facts, large_facts, strict=True):  # the same objects
        assert [{**o, "col": round(o["col"] * 1.5, 1)} for o in objects] == [
            {**o, "col": round(o["col"], 1)} for o in large_objects
        ]  # the image column is in pixels
    for at_64, at_96 in zip(small, large, strict=True):
        assert at_96["caption"] == at_64["caption"]
        for kind, data in at_96.items():
            if isinstance(data, bytes):
                assert Image.open(io.BytesIO(data)).size == (96, 96), kind
                assert Image.open(io.BytesIO(at_64[kind])).size == (64, 64), kind


def test_an_arm_of_another_seed_is_compared_with_base_of_that_seed() -> None:
    from lab.levers import baseline_of, report

    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 50, 1.0)
    assert arm_recipe(base, "pixels_96_seed1", 600, 50, 1.0).train.seed == 1
    results = [
        {"arm": arm, "what": ARMS[arm][0], "eval": {"caption R@1": value}, "history": []}
        for arm, value in (("pixels_96_seed1", 0.5), ("base_seed1", 0.25), ("base", 0.125))
    ]
    text = report(results, "cmd", short, base)
    assert "| | change against base_seed1 | | +0.250 |" in text
    assert "| | change against base | | +0.125 |" in text  # two seeds of base: chance
    assert text.count("change against") == 2
    assert [baseline_of(a) for a in ("cells", "cells_seed1")] == ["base", "base_seed1"]


def test_base_900_is_base_with_the_steps_a_500_step_pixels_96_arm_has_minutes_for() -> None:
    base = load_recipe("default")
    long = arm_recipe(base, "base_900_seed1", 600, 500, 1.0)
    short = arm_recipe(base, "base", 600, 500, 1.0)
    assert long.train.steps == 900 and long.train.seed == 1
    assert replace(long, name=short.name, train=replace(long.train, steps=500, seed=0)) == short


def test_the_twin_arms_are_base_with_twin_rows_and_their_steps_only() -> None:
    from anyseek.workbench.twins import check_twin_rows

    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 800, 1.0)
    arms = {"twin_rows": (800, 0), "twin_rows_1140": (1140, 0), "twin_rows_960": (960, 0),
            "twin_rows_1140_seed1": (1140, 1)}  # fmt: skip
    for arm, (steps, seed) in arms.items():
        twin = arm_recipe(base, arm, 600, 800, 1.0)
        t = twin.train
        assert (t.twin_rows, t.cross_second, t.steps, t.seed) == (True, 0.0, steps, seed)
        check_twin_rows(t.batch, t.cross_second, t.same_person_pairs)  # a batcher takes it
        plain = replace(
            t, twin_rows=False, cross_second=short.train.cross_second, steps=800, seed=0
        )
        assert replace(twin, name=short.name, train=plain) == short
    both = arm_recipe(base, "object_rows_half_twins", 600, 800, 1.0).train
    half = arm_recipe(base, "object_rows_half", 600, 800, 1.0).train
    assert replace(both, twin_rows=False, cross_second=half.cross_second, steps=800) == half
    again = arm_recipe(base, "object_rows_half_twins_seed1", 600, 800, 1.0).train
    assert again.seed == 1 and replace(again, seed=0) == both


def test_the_wide_max_arm_is_base_with_the_widened_network_only() -> None:
    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 50, 1.0)
    wide = arm_recipe(base, "wide_max", 600, 50, 1.0)
    assert wide.model == "max_pool_wide" and base.model == "max_pool"
    assert replace(wide, name=short.name, model=short.model) == short


def test_the_next_run_s_draft_is_the_shipped_recipe_with_the_object_heavy_arm_s_lever() -> None:
    base, draft = load_recipe("default"), load_recipe(DRAFTS["v11-draft"])
    arm = arm_recipe(base, "object_heavy", base.data.scenes, base.train.steps, 0.0)
    assert (draft.name, draft.generation) == ("v11-draft", "v11")
    assert draft.train.object_positives and draft.train.p_object_caption == 0.4
    assert replace(draft.train, chunk_minutes=0.0) == arm.train  # the arm's lever, full length
    assert (draft.model, draft.data, draft.val) == (base.model, base.data, base.val)


def test_the_v12_draft_is_v11_s_lever_at_a_quarter_of_caption_rows_with_fewer_validations() -> None:
    base, v11, draft = (
        load_recipe("default"),
        load_recipe(DRAFTS["v11-draft"]),
        load_recipe(DRAFTS["v12-draft"]),
    )
    assert (draft.name, draft.generation) == ("v12-draft", "v12")
    assert draft.train.object_positives and draft.train.p_object_caption == 0.25
    assert base.train.p_object_caption < draft.train.p_object_caption < v11.train.p_object_caption
    # 9-minute chunks validate 10 times instead of 18: about 5 minutes of v11's 123 back
    assert draft.train.chunk_minutes == 9.0
    same = {"p_object_caption": 0.4, "chunk_minutes": v11.train.chunk_minutes}
    assert replace(draft.train, **same) == v11.train
    assert (draft.model, draft.data, draft.val) == (base.model, base.data, base.val)


def test_the_v11c_draft_is_v11b_s_at_half_the_dose_and_the_half_arm_at_full_length() -> None:
    base, v11b, draft = (
        load_recipe("default"),
        load_recipe(DRAFTS["v11b-draft"]),
        load_recipe(DRAFTS["v11c-draft"]),
    )
    arm = arm_recipe(base, "object_rows_half", base.data.scenes, base.train.steps, 0.0)
    assert (draft.name, draft.generation) == ("v11c-draft", "v11")
    assert draft.train.object_rows == 0.5 and draft.train.object_rows_both_ways
    assert replace(draft.train, chunk_minutes=0.0) == arm.train
    assert replace(draft.train, object_rows=1.0) == v11b.train
    assert (draft.model, draft.data, draft.val) == (base.model, base.data, base.val)


def test_the_v11d_draft_is_v11c_with_twin_rows_and_the_twin_arm_at_full_length() -> None:
    base, v11c, draft = (
        load_recipe("default"),
        load_recipe(DRAFTS["v11c-draft"]),
        load_recipe(DRAFTS["v11d-draft"]),
    )
    arm = arm_recipe(base, "object_rows_half_twins", base.data.scenes, 800, 0.0)
    assert (draft.name, draft.generation) == ("v11d-draft", "v11")
    # the arm's 1,140 steps for base's 800, scaled to a full run's 8,000
    assert draft.train.steps == 11400 == arm.train.steps * base.train.steps // 800
    assert replace(draft.train, chunk_minutes=0.0, steps=arm.train.steps) == arm.train
    assert replace(draft.train, twin_rows=False, cross_second=0.5, steps=8000) == v11c.train
    assert (draft.model, draft.data, draft.val) == (v11c.model, v11c.data, v11c.val)


def test_the_v11e_draft_is_v11d_s_with_colour_rows_that_move_the_text_tower_only() -> None:
    v11d, draft = load_recipe(DRAFTS["v11d-draft"]), load_recipe(DRAFTS["v11e-draft"])
    assert (draft.name, draft.generation) == ("v11e-draft", "v11")
    assert draft.train.colour_rows == 0.5 and not draft.train.colour_rows_images
    assert replace(draft.train, colour_rows=0.0) == v11d.train
    assert (draft.model, draft.data, draft.val) == (v11d.model, v11d.data, v11d.val)


def test_the_colour_rows_arms_are_base_with_the_lever_only() -> None:
    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 50, 1.0)
    arm = arm_recipe(base, "colour_rows", 600, 50, 1.0)
    text = arm_recipe(base, "colour_rows_text", 600, 50, 1.0)
    assert replace(arm.train, colour_rows=0.0, colour_rows_images=False) == short.train
    assert arm.train.colour_rows == 0.5 and arm.train.colour_rows_images
    assert replace(text.train, colour_rows=0.0) == short.train and text.train.colour_rows == 0.5


def test_the_shape_pairs_arms_are_base_with_the_lever_only_and_base_has_caption_pairs() -> None:
    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 50, 1.0)
    assert short.train.cross_weight > 0 and short.train.shape_pairs == 0.0
    for arm, share in (("shape_pairs", 1.0), ("shape_pairs_half", 0.5)):
        recipe = arm_recipe(base, arm, 600, 50, 1.0)
        assert recipe.train.shape_pairs == share
        assert replace(recipe.train, shape_pairs=0.0) == short.train


def test_the_colour_half_twins_arms_are_v11e_s_training_short_with_or_without_shapes() -> None:
    base, v11e = load_recipe("default"), load_recipe(DRAFTS["v11e-draft"])
    arm = arm_recipe(base, "colour_half_twins", 600, 50, 1.0)
    shapes = arm_recipe(base, "colour_half_twins_shapes", 600, 50, 1.0)
    assert arm.train == replace(v11e.train, steps=1140, chunk_minutes=1.0)
    assert replace(shapes.train, shape_pairs=0.0) == arm.train and shapes.train.shape_pairs == 1.0


def test_the_v11f_draft_is_v11e_s_with_shape_pairs_on_every_caption_row() -> None:
    v11e, draft = load_recipe(DRAFTS["v11e-draft"]), load_recipe(DRAFTS["v11f-draft"])
    assert (draft.name, draft.generation) == ("v11f-draft", "v11")
    assert draft.train.shape_pairs == 1.0
    assert replace(draft.train, shape_pairs=0.0) == v11e.train
    assert (draft.model, draft.data, draft.val) == (v11e.model, v11e.data, v11e.val)


def test_the_v9_recipe_arm_is_base_without_what_v10_added() -> None:
    base = load_recipe("default")
    short = arm_recipe(base, "base", 600, 800, 1.0)
    v9 = arm_recipe(base, "v9_recipe", 600, 800, 1.0)
    assert short.train.cell_weight > 0 and short.train.cross_weight > 0  # v10's additions
    assert v9.train.cell_weight == 0 and v9.train.cross_weight == 0
    assert v9.generation == short.generation and v9.data == short.data
    keep = {"cell_weight": 0.0, "cross_weight": 0.0}
    assert replace(v9, name=short.name) == replace(short, train=replace(short.train, **keep))


def test_each_warm_arm_is_its_arm_from_nothing_started_from_the_shipped_model() -> None:
    base = load_recipe("default")
    for warm, cold in (
        ("warm_base", "base"), ("warm_v9_recipe", "v9_recipe"),
        ("warm_colour_half_twins", "colour_half_twins"),
        ("warm_colour_half_twins_shapes", "colour_half_twins_shapes"),
    ):  # fmt: skip
        hot, plain = arm_recipe(base, warm, 600, 800, 1.0), arm_recipe(base, cold, 600, 800, 1.0)
        assert hot.train == replace(plain.train, start_from="builtin", lr=5e-4, warmup=50), warm
        assert hot.data == plain.data and hot.model == plain.model
        assert baseline_of(warm) == "warm_base"
    for whole, warm in (
        ("warm_colour_half_twins_whole", "warm_colour_half_twins"),
        ("warm_colour_half_twins_shapes_whole", "warm_colour_half_twins_shapes"),
    ):
        plain = arm_recipe(base, warm, 600, 800, 1.0).train
        assert arm_recipe(base, whole, 600, 800, 1.0).train == replace(plain, p_object_caption=0)
    one_way = arm_recipe(base, "warm_colour_half_twins_one_way", 600, 800, 1.0).train
    plain = arm_recipe(base, "warm_colour_half_twins", 600, 800, 1.0).train
    assert plain.object_rows_both_ways and one_way == replace(plain, object_rows_both_ways=False)
    full = arm_recipe(base, "warm_colour_half_twins_one_way_full", 600, 800, 1.0).train
    assert (one_way.object_rows, full) == (0.5, replace(one_way, object_rows=1.0))
    assert load_builtin_bundle("builtin").config == BuiltinConfig.load(Path(base.model))


def test_a_warm_arm_on_another_seed_is_compared_with_warm_base_on_that_seed() -> None:
    base = load_recipe("default")
    for warm in WARM_SEEDED:
        again = arm_recipe(base, f"{warm}_seed1", 600, 800, 1.0)
        assert again.train == replace(arm_recipe(base, warm, 600, 800, 1.0).train, seed=1)
        assert again.train.start_from == "builtin"
    assert [baseline_of(a) for a in ("warm_base_seed1", "warm_colour_half_twins_one_way_seed1",
                                     "warm_colour_half_twins_one_way", "base_seed1")] == [
        "warm_base", "warm_base_seed1", "warm_base", "base"]  # fmt: skip


def test_the_v11g_draft_is_v11e_s_with_its_object_rows_one_way_as_its_warm_arm() -> None:
    v11e, draft = load_recipe(DRAFTS["v11e-draft"]), load_recipe(DRAFTS["v11g-draft"])
    assert (draft.name, draft.generation) == ("v11g-draft", "v11")
    assert v11e.train.object_rows_both_ways and not draft.train.object_rows_both_ways
    assert replace(draft.train, object_rows_both_ways=True) == v11e.train
    assert (draft.model, draft.data, draft.val) == (v11e.model, v11e.data, v11e.val)
    warm = arm_recipe(load_recipe("default"), "warm_colour_half_twins_one_way", 600, 800, 1.0)
    assert all(getattr(warm.train, k) == getattr(draft.train, k) for k in LEVER)


def test_the_v11h_draft_is_v11g_s_at_v11b_s_dose_as_its_warm_arm() -> None:
    v11g, draft = load_recipe(DRAFTS["v11g-draft"]), load_recipe(DRAFTS["v11h-draft"])
    assert (draft.name, draft.generation, v11g.train.object_rows) == ("v11h-draft", "v11", 0.5)
    assert replace(draft.train, object_rows=0.5) == v11g.train
    assert (draft.model, draft.data, draft.val) == (v11g.model, v11g.data, v11g.val)
    assert draft.train.object_rows == load_recipe(DRAFTS["v11b-draft"]).train.object_rows
    warm = arm_recipe(load_recipe("default"), "warm_colour_half_twins_one_way_full", 600, 800, 1.0)
    assert all(getattr(warm.train, k) == getattr(draft.train, k) for k in LEVER)
