"""A filter value or operator its field's kind cannot meet is refused naming the field and the kind
it expects, as an unknown field is, instead of a filter that silently matches nothing."""

from __future__ import annotations

import pytest

from anyseek.search.fields import (
    FilterKindError,
    FilterSpec,
    Strict,
    UnknownFieldError,
    resolve_filter,
)
from anyseek.search.stores.base import DateRange, Range

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
        equals={
            **{"sold": False, "note": "x", "taken": "2024-03-05T10:00"},
            **{"tags": "red", "width": 64},
        },
        any_of={"price": [5, 7], "ext": ["png"]},
        ranges={"price": ("10", 20), "taken": ("2024-03-01", None)},
        exists=["note"],
    )
    resolved = resolve_filter(spec, REGISTRY)
    assert resolved.equals["metadata.taken"] == "2024-03-05T10:00:00Z"  # a moment: as written
    assert resolved.any_of["metadata.price"] == [5, 7]
    assert resolved.ranges == {"metadata.price": Range(gte=10.0, lte=20)}
    assert resolved.dates == {"metadata.taken": DateRange(gte="2024-03-01")}


def test_an_unknown_field_is_still_named_first() -> None:
    with pytest.raises(UnknownFieldError, match="'colour'"):
        resolve_filter(FilterSpec(equals={"price": "abc", "colour": "red"}), REGISTRY)


STAMPS = ("2021-07-03T23:59:59Z", "2021-07-04T00:00:00Z", "2021-07-04T12:30:00Z")
STAMPS += ("2021-07-04T23:59:59Z", "2021-07-05T00:00:00Z")


def _kept(spec: FilterSpec) -> list[str]:
    """Which of STAMPS the resolved filter's date range on ``taken`` keeps."""
    dates = resolve_filter(spec, REGISTRY).dates["metadata.taken"]
    return [stamp[8:16] for stamp in STAMPS if dates.contains(stamp)]


@pytest.mark.parametrize(
    ("lower", "upper", "equals", "kept"),
    [
        (None, "2021-07-04", None, ["03T23:59", "04T00:00", "04T12:30", "04T23:59"]),
        (None, Strict("2021-07-04"), None, ["03T23:59"]),
        ("2021-07-04", None, None, ["04T00:00", "04T12:30", "04T23:59", "05T00:00"]),
        (Strict("2021-07-04"), None, None, ["05T00:00"]),
        (None, None, "2021-07-04", ["04T00:00", "04T12:30", "04T23:59"]),
        ("2021-07-04T12:00:00Z", None, "2021-07-04", ["04T12:30", "04T23:59"]),  # both hold
        (Strict("2021-07-04T12:30:00Z"), None, None, ["04T23:59", "05T00:00"]),
        (None, Strict("2021-07-04T12:30:00Z"), None, ["03T23:59", "04T00:00"]),
        (None, "2021-07-04T12:30:00+02:00", None, ["03T23:59", "04T00:00"]),  # 10:30 UTC
    ],
)
def test_a_date_without_a_time_is_its_whole_day(lower, upper, equals, kept) -> None:
    ranges = {"taken": (lower, upper)} if lower is not None or upper is not None else {}
    spec = FilterSpec(ranges=ranges, equals={"taken": equals} if equals else {})
    assert _kept(spec) == kept


def test_strict_number_bounds_leave_the_bound_out() -> None:
    found = resolve_filter(FilterSpec(ranges={"price": (Strict(5), Strict("7"))}), REGISTRY)
    price = found.ranges["metadata.price"]
    assert [p for p in (4.99, 5, 5.001, 6, 6.999, 7, 7.5) if price.contains(p)] == [5.001, 6, 6.999]
    with pytest.raises(FilterKindError, match="must be a number, got 'x'"):
        resolve_filter(FilterSpec(ranges={"price": (Strict("x"), None)}), REGISTRY)


def test_a_day_and_a_range_that_do_not_meet_are_an_empty_range() -> None:
    from anyseek.search.query import SearchInputError

    spec = FilterSpec(ranges={"taken": ("2021-07-05", None)}, equals={"taken": "2021-07-04"})
    with pytest.raises(SearchInputError, match="empty date range"):
        resolve_filter(spec, REGISTRY)
