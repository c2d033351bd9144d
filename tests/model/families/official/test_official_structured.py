"""Structured 4M-21 inputs serialise exactly like the official transforms (values worked out by
hand from ``fourm.data.modality_transforms``: ColorPalette-, Detection-, MetadataTransform)."""

from __future__ import annotations

import pytest

from anyseek.model.families.official.structured import (
    METADATA_KEYS,
    serialize_boxes,
    serialize_metadata,
    serialize_palette,
)
from anyseek.model.fourm.tokenizers.text import load_text_tokenizer
from anyseek.model.transforms.base import UserInputError


def test_palette_is_count_then_channels() -> None:
    assert serialize_palette([[255, 0, 0], [0, 128, 255]]) == (
        "v1=2 v0=255 v0=0 v0=0 v0=0 v0=128 v0=255"
    )
    # hex colours; channels rounded like Python's round (half to even)
    assert serialize_palette(["#00FF80", [127.5, 0.4, 254.5]]) == (
        "v1=2 v0=0 v0=255 v0=128 v0=128 v0=0 v0=254"
    )


def test_boxes_binned_to_999_and_ordered_by_distance_to_origin() -> None:
    value = [
        {"class": "dog", "box": [0.5, 0.5, 1.0, 1.0]},
        ["person", [0.0, 0.1, 0.3, 1.0]],
        {"class": "Dining Table", "box": [0.1, 0.45, 0.9, 0.95]},
    ]
    # 0.1*999=99.9->100, 0.3*999=299.7->300, 0.5*999=499.5->500 (half to even), 0.45->449.55->450
    assert serialize_boxes(value) == (
        "v0=0 v1=100 v2=300 v3=999 person "
        "v0=100 v1=450 v2=899 v3=949 dining table "
        "v0=500 v1=500 v2=999 v3=999 dog"
    )


def test_boxes_keep_given_order_on_ties() -> None:
    value = [["cat", [0.2, 0.0, 0.4, 0.5]], ["dog", [0.0, 0.2, 0.5, 0.6]]]
    assert serialize_boxes(value).split()[4::5] == ["cat", "dog"]


def test_metadata_binning_per_key_in_given_order() -> None:
    value = {
        "brightness": 200,  # (200/255) * 49 = 38.4 -> 38
        "n_humans": 2,  # counts as they are
        "original_width": 640,  # 640 // 32 = 20
        "aesthetic_score": 5.5,  # bounds 4.5, 5.5 -> bin 2
        "colorfulness": 400,  # clamped to 150 -> 49
        "watermark_score": 0.49,  # below 0.5 -> 0
        "occlusion_score": 0.1,  # 0.1 / 0.25 * 49 = 19.6 -> 19
        "n_sam_instances": 5000,  # clamped to 999
    }
    assert serialize_metadata(value) == (
        "v1=10 v0=38 v1=5 v0=2 v1=0 v0=20 v1=20 v0=2 v1=9 v0=49 v1=19 v0=0 v1=18 v0=19 v1=6 v0=999"
    )
    assert serialize_metadata({"colourfulness": 0, "n_objects": 3}) == "v1=9 v0=0 v1=7 v0=3"
    assert len(METADATA_KEYS) == 21
    assert sorted(k.key_id for k in METADATA_KEYS.values()) == list(range(21))


def test_value_tokens_are_single_wordpieces() -> None:
    text = load_text_tokenizer()
    string = serialize_boxes([["dining table", [0.0, 0.0, 1.0, 1.0]]])
    assert text.tokens(string) == ["v0=0", "v1=0", "v2=999", "v3=999", "dining table"]
    assert text.tokens(serialize_metadata({"entropy": 5})) == ["v1=13", "v0=24"]


@pytest.mark.parametrize(
    ("serialize", "value", "needle"),
    [
        (serialize_palette, [], "list of 1 to 7"),
        (serialize_palette, [[0, 0, 0]] * 8, "at most 7"),
        (serialize_palette, [[0, 0, 0], [0, 300, 0]], "color_palette[1]"),
        (serialize_palette, ["#zzzzzz"], "not a colour"),
        (serialize_boxes, [["person", [0.1, 0.1, 1.2, 0.9]]], "outside the image"),
        (serialize_boxes, [["person", [0.5, 0.1, 0.2, 0.9]]], "is empty"),
        (serialize_boxes, [["dog", [0, 0, 1, 1]], ["unicorn", [0, 0, 1, 1]]], "det[1]"),
        (serialize_boxes, [{"class": "dog"}], "box must be"),
        (serialize_boxes, "a dog", "non-empty list"),
        (serialize_metadata, {"loudness": 3}, "unknown key 'loudness'"),
        (serialize_metadata, {"n_humans": 1.5}, "whole number"),
        (serialize_metadata, {"brightness": "high"}, "not a number"),
        (serialize_metadata, {"brightness": True}, "not a number"),
        (serialize_metadata, {"n_humans": -1}, "negative"),
    ],
)
def test_bad_values_are_refused_naming_the_field(serialize, value, needle) -> None:
    with pytest.raises(UserInputError, match=None) as caught:
        serialize(value)
    assert needle in str(caught.value)
