"""lab/any_to_any.py's ceiling of a caption against maps: a reader that sees shapes, sizes,
counts and order, and no colour or material."""

from __future__ import annotations

from lab.any_to_any import colour_blind_ceiling, map_reader_ceiling


def _obj(shape: str, size: str, color: str, col: float) -> dict:
    return {"shape": shape, "size": size, "color": color, "material": "matte", "col": col}


def test_the_map_reader_tells_scenes_apart_by_count_order_and_size_but_not_colour() -> None:
    scenes = [
        [_obj("cube", "small", "red", 10), _obj("sphere", "large", "blue", 40)],
        [_obj("cube", "small", "green", 12), _obj("sphere", "large", "red", 50)],  # colours
        [_obj("sphere", "large", "blue", 10), _obj("cube", "small", "red", 40)],  # order
        [_obj("cube", "small", "red", 10), _obj("sphere", "large", "blue", 40),
         _obj("cone", "large", "red", 55)],  # one more object
        [_obj("cube", "large", "red", 10), _obj("sphere", "large", "blue", 40)],  # a size
    ]  # fmt: skip
    captions = [
        "A small red cube and a large blue sphere.",
        "A small green cube and a large red sphere.",
        "A large blue sphere and a small red cube.",
        "A small red cube, a large blue sphere and a large red cone.",
        "A large red cube and a large blue sphere.",
    ]
    # only the first two look alike in a map: each is one of two, every other one of one
    expected = (0.5 + 0.5 + 1 + 1 + 1) / 5
    assert map_reader_ceiling(captions, scenes) == expected
    # the colour-blind reader of the named objects alone confuses more of them
    assert colour_blind_ceiling(captions, scenes) < expected
