"""A filter value or operator its field's kind cannot meet is refused naming the field and the kind
it expects, as an unknown field is, instead of a filter that silently matches nothing."""

from __future__ import annotations

import pytest

from search.fields import FilterKindError, FilterSpec, UnknownFieldError, resolve_filter
from search.stores.base import DateRange, Range

REGISTRY = {"price": "number", "sold": "boolean", "note": "string", "tags": "strings"}
REGISTRY |= {"taken": "date"}


@pytest.mark.parametrize(
    ("spec", "field", "expected"),
    [
        (FilterSpec(equals={"price": "abc"}), "price", "must be a number, got 'abc'"),
        (FilterSpec(equals={"price": True}), "price", "must be a number, got True"),
        (FilterSpec(any_of={"price": [5, "six"]}), "price", "must be a number, got 'six'"),
        (FilterSpec(ranges={"price": ("abc", None)}), "price", "must be a number, got 'abc'"),
        (FilterSpec(ranges={"bytes": (None, "big")}), "bytes", "must be a number, got 'big'"),
        (FilterSpec(equals={"sold": "yes"}), "sold", "must be true or false, got 'yes'"),
        (FilterSpec(equals={"note": 3}), "note", "must be text, got 3"),
        (FilterSpec(any_of={"tags": ["red", 1]}), "tags", "must be text (one of the list"),
        (FilterSpec(equals={"taken": "soon"}), "taken", "must be an ISO date such as"),
        (FilterSpec(ranges={"taken": (2024, None)}), "taken", "must be an ISO date such as"),
        (FilterSpec(ranges={"note": ("a", "b")}), "note", "note is a string field and ranges"),
        (FilterSpec(ranges={"sold": (0, 1)}), "sold", "ranges compare number and date fields"),
    ],
)
def test_a_value_of_the_wrong_kind_names_the_field_and_the_kind(
    spec: FilterSpec, field: str, expected: str
) -> None:
    with pytest.raises(FilterKindError) as refused:
        resolve_filter(spec, REGISTRY)
    assert refused.value.field == f"filter.{field}"
    assert repr(field) in str(refused.value) and expected in str(refused.value)


def test_values_of_the_right_kind_resolve_as_before() -> None:
    spec = FilterSpec(
        equals={"sold": False, "note": "x", "taken": "2024-03-05", "tags": "red", "width": 64},
        any_of={"price": [5, 7], "ext": ["png"]},
        ranges={"price": ("10", 20), "taken": ("2024-03-01", None)},
        exists=["note"],
    )
    resolved = resolve_filter(spec, REGISTRY)
    assert resolved.equals["metadata.taken"] == "2024-03-05T00:00:00Z"
    assert resolved.any_of["metadata.price"] == [5, 7]
    assert resolved.ranges == {"metadata.price": Range(gte=10.0, lte=20)}
    assert resolved.dates == {"metadata.taken": DateRange(gte="2024-03-01")}


def test_an_unknown_field_is_still_named_first() -> None:
    with pytest.raises(UnknownFieldError, match="'colour'"):
        resolve_filter(FilterSpec(equals={"price": "abc", "colour": "red"}), REGISTRY)
