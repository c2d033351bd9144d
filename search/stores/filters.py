"""Filters on item payloads: exact values, value lists, numeric and date ranges, fields that must
exist, and id sets; every backend answers them the same way (the contract suite checks it)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from anyseek.search.stores.checks import InvalidInputError, check_ids

Scalar = str | int | bool


@dataclass(frozen=True)
class Range:
    """Numeric bounds on a payload field, both inclusive; ``None`` leaves that side open."""

    gte: float | None = None
    lte: float | None = None

    def __post_init__(self) -> None:
        for bound in (self.gte, self.lte):
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, int | float) or bound != bound
            ):
                raise InvalidInputError(f"range bounds must be numbers, got {bound!r}")
        if self.gte is None and self.lte is None:
            raise InvalidInputError("a range needs gte, lte or both")
        if self.gte is not None and self.lte is not None and self.gte > self.lte:
            raise InvalidInputError(f"empty range: gte {self.gte} > lte {self.lte}")

    def contains(self, value: object) -> bool:
        """Whether a payload value is a number (not a boolean) within the bounds."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (self.gte is None or value >= self.gte) and (self.lte is None or value <= self.lte)


def parse_date(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 date or date-time as an aware UTC datetime (naive = UTC), or None."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class DateRange:
    """Bounds on a date field (RFC 3339 strings in the payload), both inclusive; None: open."""

    gte: datetime | None = None
    lte: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("gte", "lte"):
            bound = getattr(self, name)
            if bound is not None:
                moment = parse_date(bound)
                if moment is None:
                    raise InvalidInputError(f"date range bounds must be ISO dates, got {bound!r}")
                object.__setattr__(self, name, moment)
        if self.gte is None and self.lte is None:
            raise InvalidInputError("a date range needs gte, lte or both")
        if self.gte is not None and self.lte is not None and self.gte > self.lte:
            raise InvalidInputError(f"empty date range: gte {self.gte} > lte {self.lte}")

    def contains(self, value: object) -> bool:
        """Whether a payload value is a date within the bounds."""
        moment = parse_date(value) if isinstance(value, str) else None
        if moment is None:
            return False
        return (self.gte is None or moment >= self.gte) and (self.lte is None or moment <= self.lte)


@dataclass(frozen=True)
class Filter:
    """Conditions an item must meet to be returned; all of them must hold (AND).

    ``equals`` maps a payload field to a value it must have; ``any_of`` maps a field to values of
    which it must have one. A payload field holding a list matches when any element matches (as
    in Qdrant). ``ranges`` maps a numeric field (size, mtime...) to inclusive bounds, ``dates`` a
    date field to inclusive date bounds. ``exists`` names fields that must hold a value (not
    missing, null or an empty list). ``ids`` restricts the search to a set of item ids. Field
    names are payload keys; user metadata fields are ``metadata.<name>``.
    """

    equals: Mapping[str, Scalar] = field(default_factory=dict)
    any_of: Mapping[str, Sequence[Scalar]] = field(default_factory=dict)
    ids: Collection[int] | None = None
    ranges: Mapping[str, Range] = field(default_factory=dict)
    dates: Mapping[str, DateRange] = field(default_factory=dict)
    exists: Collection[str] = ()

    def __post_init__(self) -> None:
        for key, value in self.equals.items():
            _check_filter_value(key, value)
        for key, values in self.any_of.items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
                raise InvalidInputError(f"filter any_of[{key!r}] must be a non-empty list")
            for value in values:
                _check_filter_value(key, value)
        for key, bounds in self.ranges.items():
            if not isinstance(key, str) or not key or not isinstance(bounds, Range):
                raise InvalidInputError(f"filter ranges[{key!r}] must be a Range on a named field")
        for key, bounds in self.dates.items():
            if not isinstance(key, str) or not key or not isinstance(bounds, DateRange):
                raise InvalidInputError(f"filter dates[{key!r}] must be a DateRange on a field")
        if isinstance(self.exists, str) or not all(
            isinstance(key, str) and key for key in self.exists
        ):
            raise InvalidInputError("filter exists must be a list of field names")
        object.__setattr__(self, "exists", tuple(dict.fromkeys(self.exists)))
        if self.ids is not None:
            object.__setattr__(
                self, "ids", frozenset(check_ids(list(self.ids), unique=False).tolist())
            )

    def conditions(self) -> list[tuple[str, tuple[Scalar, ...]]]:
        """Every payload condition as (field, accepted values)."""
        return [(k, (v,)) for k, v in self.equals.items()] + [
            (k, tuple(vs)) for k, vs in self.any_of.items()
        ]


def _check_filter_value(key: str, value: object) -> None:
    """Filter values are strings, integers or booleans: exact matches (floats compare badly)."""
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"filter field must be a non-empty string, got {key!r}")
    if not isinstance(value, str | int | bool):
        raise InvalidInputError(
            f"filter value for {key!r} must be a string, integer or boolean, got {value!r}"
        )
