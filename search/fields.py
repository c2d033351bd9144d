"""User metadata fields: which values an item may carry, their kinds, and filters by field name.

An item's metadata is a flat JSON object of fields: strings, numbers, booleans, lists of strings
and ISO 8601 dates (kept as RFC 3339 UTC strings). Each collection keeps a registry of its fields
with their kinds (``anyseek.db``); a filter names fields as users know them (``price``, ``path``)
and :func:`resolve_filter` turns it into the store's payload keys (``metadata.price``), refusing a
field the collection does not have with the list of those it has.

A date written without a time in a filter is the whole day it names (in UTC, as dates are
stored): ``taken <= 2021-07-04`` keeps a photo taken at 12:30 that day, ``taken < 2021-07-04``
does not, ``taken = 2021-07-04`` is that day; with a time, a bound is that moment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from anyseek.search.query import SearchInputError
from anyseek.search.stores.base import (
    METADATA,
    DateRange,
    FieldKind,
    Filter,
    Range,
    Scalar,
    parse_date,
)

FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_FIELDS = 64
"""Fields one item may carry."""
MAX_TEXT = 1000
"""Characters of one string value (metadata is for filtering, not documents)."""
MAX_LIST = 100
"""Strings in one list value."""
DATE_SHAPE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)

BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
"""A date without a time: in a filter, the whole day it names."""
ONE_DAY, TICK = timedelta(days=1), timedelta(microseconds=1)  # a tick: datetime's resolution

SYSTEM_FIELDS: dict[str, FieldKind] = {
    "key": "string",
    "modalities": "strings",
    "path": "string",
    "folder": "string",
    "ext": "string",
    "bytes": "number",
    "width": "number",
    "height": "number",
    "mtime": "number",
    "sha256": "string",
}
"""Fields the indexer records for every item (``key`` and ``modalities`` since items of any
modality: an item indexed before has ``path`` and is one ``rgb`` image); user metadata may not
reuse their names."""


class MetadataError(SearchInputError):
    """Metadata that cannot be stored: a bad field name, value type or size."""


class FilterFieldError(SearchInputError):
    """A filter condition its field cannot meet: a field the collection lacks, or a value or an
    operator of the wrong kind for it (HTTP 400, naming the field)."""


class UnknownFieldError(FilterFieldError):
    """A filter names a field no item of the collection has."""


class FilterKindError(FilterFieldError):
    """A filter value or operator of the wrong kind for its field: text for a number, a range
    on a text field. Such a filter would match nothing, so it is refused instead."""


EXPECTED: dict[FieldKind, str] = {
    "string": "text",
    "strings": "text (one of the list's strings)",
    "number": "a number",
    "boolean": "true or false",
    "date": "an ISO date such as 2024-05-31",
}
"""What a filter value on a field of each kind must be, as messages say it."""

ACCEPTS: dict[FieldKind, Callable[[object], bool]] = {
    "string": lambda value: isinstance(value, str),
    "strings": lambda value: isinstance(value, str),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "date": lambda value: isinstance(value, str) and parse_date(value) is not None,
}
"""Whether a filter value (equals, any_of, a range bound) suits a field of each kind."""

RANGE_KINDS: tuple[FieldKind, ...] = ("number", "date")
"""The kinds a range (``<=``, ``>=``, gte/lte) compares."""


def kind_of(value: object) -> FieldKind:
    """The kind of a normalised metadata value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "strings"
    return "date" if DATE_SHAPE.match(value) and parse_date(value) is not None else "string"


def normalize_value(name: str, value: object) -> Any:
    """A metadata value in its stored form: integral floats as ints, dates as RFC 3339 UTC."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise MetadataError(f"metadata {name!r}: numbers must be finite, got {value!r}")
        return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise MetadataError(f"metadata {name!r}: text longer than {MAX_TEXT} characters")
        if DATE_SHAPE.match(value) and (moment := parse_date(value)) is not None:
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return value
    if isinstance(value, list | tuple):
        if len(value) > MAX_LIST or not all(isinstance(v, str) for v in value):
            raise MetadataError(
                f"metadata {name!r}: a list holds at most {MAX_LIST} strings, got {value!r:.80}"
            )
        return list(value)
    raise MetadataError(
        f"metadata {name!r}: values are strings, numbers, booleans, lists of strings or ISO "
        f"dates, got {type(value).__name__}"
    )


def check_name(name: object) -> str:
    """A field name usable everywhere (payload key, query string, CSV column), not a system one."""
    if not isinstance(name, str) or not FIELD_NAME.match(name):
        raise MetadataError(
            f"metadata field {name!r}: use 1-64 letters, digits or '_', not starting with a digit"
        )
    if name in SYSTEM_FIELDS:
        raise MetadataError(
            f"metadata field {name!r} is recorded by the indexer; choose another name "
            f"(reserved: {', '.join(SYSTEM_FIELDS)})"
        )
    return name


def normalize_metadata(metadata: object, *, allow_null: bool = False) -> dict[str, Any]:
    """A checked, normalised metadata object; ``allow_null`` keeps ``None`` (a PATCH removal)."""
    if not isinstance(metadata, Mapping):
        raise MetadataError(f"metadata must be a JSON object, got {type(metadata).__name__}")
    if len(metadata) > MAX_FIELDS:
        raise MetadataError(f"metadata has {len(metadata)} fields, at most {MAX_FIELDS}")
    out: dict[str, Any] = {}
    for name, value in metadata.items():
        check_name(name)
        if value is None and allow_null:
            out[name] = None
        elif value is None:
            raise MetadataError(f"metadata {name!r}: null (leave the field out instead)")
        else:
            out[name] = normalize_value(name, value)
    return out


def merge(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` updated by ``changes`` (already normalised); a ``None`` change removes a key."""
    merged = dict(current)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    if len(merged) > MAX_FIELDS:
        raise MetadataError(f"metadata would have {len(merged)} fields, at most {MAX_FIELDS}")
    return merged


def kinds_of(metadata: Mapping[str, Any]) -> dict[str, FieldKind]:
    """The kind of every field of a normalised metadata object."""
    return {name: kind_of(value) for name, value in metadata.items()}


def check_kinds(registry: Mapping[str, FieldKind], metadata: Mapping[str, Any]) -> None:
    """Refuse a value whose kind differs from the one the collection registered for its field."""
    for name, kind in kinds_of(metadata).items():
        known = registry.get(name)
        if known is not None and known != kind:
            raise MetadataError(
                f"metadata {name!r} holds {known} values in this collection, got {kind} "
                f"{metadata[name]!r}"
            )


def payload_key(name: str) -> str:
    """The store's payload key of a field: system fields as they are, user ones under metadata."""
    return name if name in SYSTEM_FIELDS else f"{METADATA}.{name}"


@dataclass(frozen=True)
class Strict:
    """A range bound that is itself left out (``<`` / ``>``, the API's ``lt`` / ``gt``); a bare
    bound is kept (``<=`` / ``>=``, ``lte`` / ``gte``)."""

    value: float | str


Bound = float | str | Strict | None


@dataclass(frozen=True)
class FilterSpec:
    """A filter by field names as users write it (API body, CLI ``--where``), not yet resolved."""

    equals: Mapping[str, Scalar] = field(default_factory=dict)
    any_of: Mapping[str, Sequence[Scalar]] = field(default_factory=dict)
    ranges: Mapping[str, tuple[Bound, Bound]] = field(
        default_factory=dict
    )  # field -> (lower, upper): numbers, or ISO dates for a date field; Strict: left out
    exists: Sequence[str] = ()

    def names(self) -> list[str]:
        """Every field named, in order of first mention."""
        return list(dict.fromkeys([*self.equals, *self.any_of, *self.ranges, *self.exists]))

    def __bool__(self) -> bool:
        return bool(self.equals or self.any_of or self.ranges or self.exists)


def resolve_filter(spec: FilterSpec, registry: Mapping[str, FieldKind]) -> Filter:
    """The store filter of ``spec`` for a collection whose user fields are ``registry``.

    A field neither recorded by the indexer nor registered is an :class:`UnknownFieldError`
    listing the collection's fields; a value or a range its field's kind cannot meet is a
    :class:`FilterKindError` naming the field and the kind expected. Dates compare as dates; a
    date without a time is its whole day, in a bound and in equals; equals on a date with a time
    is its RFC 3339 form.
    """
    kinds = {**SYSTEM_FIELDS, **registry}
    unknown = [name for name in spec.names() if name not in kinds]
    if unknown:
        user = ", ".join(f"{n} ({k})" for n, k in sorted(registry.items())) or "none yet"
        raise UnknownFieldError(
            f"unknown filter field {unknown[0]!r}: this collection has the fields "
            f"{', '.join(SYSTEM_FIELDS)} and, from its metadata, {user}",
            f"filter.{unknown[0]}",
        )
    check_kinds_of_filter(spec, kinds)
    ranges: dict[str, Range] = {}
    dates: dict[str, DateRange] = {}
    days = {  # equals on a date field with a bare date: that whole day, as a range
        name: (value, value)
        for name, value in spec.equals.items()
        if kinds[name] == "date" and _bare_date(value)
    }
    for name in dict.fromkeys([*spec.ranges, *days]):
        try:
            if kinds[name] == "date":
                bounds = [b for b in (spec.ranges.get(name), days.get(name)) if b is not None]
                dates[payload_key(name)] = _date_range(bounds)
            else:
                lower, upper = spec.ranges[name]
                ranges[payload_key(name)] = Range(gte=_lower(lower), lte=_upper(upper))
        except ValueError as exc:
            raise SearchInputError(f"filter range on {name!r}: {exc}", f"filter.{name}") from None

    def value(name: str, given: Scalar) -> Scalar:
        return normalize_value(name, given) if kinds[name] == "date" else given

    return Filter(
        equals={payload_key(n): value(n, v) for n, v in spec.equals.items() if n not in days},
        any_of={payload_key(n): [value(n, v) for v in vs] for n, vs in spec.any_of.items()},
        ranges=ranges,
        dates=dates,
        exists=[payload_key(n) for n in spec.exists],
    )


def check_kinds_of_filter(spec: FilterSpec, kinds: Mapping[str, FieldKind]) -> None:
    """Refuse a value or a range that the field's kind cannot meet (see :data:`ACCEPTS`)."""
    for name, bounds in spec.ranges.items():
        if kinds[name] not in RANGE_KINDS:
            raise FilterKindError(
                f"filter range on {name!r}: {name} is a {kinds[name]} field and ranges compare "
                f"{' and '.join(RANGE_KINDS)} fields; use equals or any_of",
                f"filter.{name}",
            )
        for bound in map(_unwrapped, bounds):
            if bound is not None:
                _check_value("range", name, kinds[name], _number(bound))
    for name, value in spec.equals.items():
        _check_value("equals", name, kinds[name], value)
    for name, values in spec.any_of.items():
        for value in values:
            _check_value("any_of", name, kinds[name], value)


def _check_value(operator: str, name: str, kind: FieldKind, value: object) -> None:
    """Refuse one value of a condition unless a field of ``kind`` can hold it."""
    if not ACCEPTS[kind](value):
        raise FilterKindError(
            f"filter {operator} on {name!r}: {name} is a {kind} field, so the value must be "
            f"{EXPECTED[kind]}, got {value!r}",
            f"filter.{name}",
        )


def _unwrapped(bound: Bound) -> float | str | None:
    """A bound's value, strict or not."""
    return bound.value if isinstance(bound, Strict) else bound


def _bare_date(value: object) -> bool:
    """Whether ``value`` is a date without a time (``2021-07-04``): a whole day in a filter."""
    return isinstance(value, str) and bool(BARE_DATE.match(value)) and parse_date(value) is not None


def _lower(bound: Bound) -> float | None:
    """A number's lower bound as an inclusive one (``> x``: the next number up)."""
    value = _number(_unwrapped(bound))
    return math.nextafter(value, math.inf) if isinstance(bound, Strict) else value  # type: ignore


def _upper(bound: Bound) -> float | None:
    """A number's upper bound as an inclusive one (``< x``: the next number down)."""
    value = _number(_unwrapped(bound))
    return math.nextafter(value, -math.inf) if isinstance(bound, Strict) else value  # type: ignore


def _moment(bound: Bound, lower: bool) -> datetime | None:
    """A date bound as the inclusive moment it means: a bare date spans its whole day, so
    ``>= D`` starts at its midnight, ``> D`` at the next, ``<= D`` ends at its last tick and
    ``< D`` just before it starts; a date with a time spans one tick."""
    value = _unwrapped(bound)
    if value is None:
        return None
    start = parse_date(value)
    if start is None:
        raise ValueError(f"date range bounds must be ISO dates, got {value!r}")
    span = ONE_DAY if _bare_date(value) else TICK
    if lower:
        return start + span if isinstance(bound, Strict) else start
    return start - TICK if isinstance(bound, Strict) else start + span - TICK


def _date_range(bounds: Sequence[tuple[Bound, Bound]]) -> DateRange:
    """The inclusive date range all of ``bounds`` (lower, upper) allow: their intersection."""
    lowers = [m for lo, _ in bounds if (m := _moment(lo, lower=True)) is not None]
    uppers = [m for _, up in bounds if (m := _moment(up, lower=False)) is not None]
    return DateRange(gte=max(lowers, default=None), lte=min(uppers, default=None))


def _number(bound: object) -> object:
    """A range bound as a number when it is numeric text ("20"), else as given."""
    if isinstance(bound, str):
        try:
            return float(bound)
        except ValueError:
            return bound
    return bound
