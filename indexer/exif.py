"""A photo's own facts from its EXIF: when it was taken, with which camera and lens, where, and
which way up, as metadata fields every filter, the page and export already take.

Read once per image at decoding (Pillow reads EXIF of JPEG, PNG, WebP, TIFF and, through
pillow-heif, HEIC). The facts sit under the image's own metadata: a field the user gives (sidecar,
metadata file, upload) wins, and so does a field the collection already holds with another kind.
Bad EXIF (unreadable, an absurd date, a value of the wrong type) never fails an image: that field
is left empty and the item's note on its job says why (``anyseek index``, ``jobs show --all``,
``GET /v1/jobs/N``); it is also logged at INFO. A photo without EXIF gets no ``taken``; its
file's time stays in the ``mtime`` field.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from PIL import ExifTags, Image
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from anyseek.db import repository
from anyseek.db.models import Item
from anyseek.search.fields import MAX_FIELDS, MAX_TEXT, kind_of

log = logging.getLogger("anyseek.indexer.exif")

FIELDS: dict[str, str] = {
    "taken": "when the photo was taken (EXIF DateTimeOriginal, in UTC when its offset is known)",
    "taken_offset": "the camera's UTC offset at that moment (EXIF OffsetTimeOriginal), e.g. +02:00",
    "camera_make": "the camera's maker (EXIF Make)",
    "camera_model": "the camera's model (EXIF Model)",
    "lens": "the lens (EXIF LensModel)",
    "gps_lat": "latitude in degrees, north positive (EXIF GPS)",
    "gps_lon": "longitude in degrees, east positive (EXIF GPS)",
    "orientation": "EXIF orientation 1-8 (the image is indexed upright whatever it says)",
}
"""The fields a photo's EXIF fills, with what each holds (the docs' table)."""

FIRST_PHOTO = datetime(1826, 1, 1, tzinfo=UTC)  # no photo is older; an earlier date is a bad one
EXIF_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
UNREADABLE = "the EXIF block is unreadable: no photo facts"
SORTS = ("id", "taken", "-taken")
"""How an item listing may be ordered: by id (indexing order) or by date taken (``-``: newest
first); items without a date taken follow, by id."""


@dataclass(frozen=True)
class PhotoFacts:
    """What one image's EXIF says, as metadata values, and why any field was left empty."""

    fields: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


NO_FACTS = PhotoFacts()


def read_photo_facts(data: bytes) -> PhotoFacts:
    """The facts of an image's EXIF (its header only; no pixels are decoded); never raises."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif()
            if not exif:  # none, or a block Pillow could not parse
                raw = image.info.get("exif")
                return NO_FACTS if not raw else PhotoFacts(problems=(UNREADABLE,))
            sub, gps = exif.get_ifd(ExifTags.IFD.Exif), exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception as error:  # any damage in the header: no facts, said why
        return PhotoFacts(problems=(f"{UNREADABLE} ({_short(error)})",))
    found: dict[str, Any] = {}
    problems: list[str] = []
    readers = (
        ("taken", lambda: _taken(sub, exif, found)),
        ("camera_make", lambda: _text(exif.get(ExifTags.Base.Make))),
        ("camera_model", lambda: _text(exif.get(ExifTags.Base.Model))),
        ("lens", lambda: _text(sub.get(ExifTags.Base.LensModel))),
        ("gps_lat", lambda: _coordinate(gps, ExifTags.GPS.GPSLatitude, "NS", 90.0)),
        ("gps_lon", lambda: _coordinate(gps, ExifTags.GPS.GPSLongitude, "EW", 180.0)),
        ("orientation", lambda: _orientation(exif.get(ExifTags.Base.Orientation))),
    )
    for name, read in readers:
        try:
            value = read()
        except (ValueError, TypeError, ArithmeticError, KeyError, IndexError) as error:
            problems.append(f"EXIF {name} left empty: {_short(error)}")
            continue
        if value is not None:
            found[name] = value
    if ("gps_lat" in found) != ("gps_lon" in found):  # half a position is no place
        kept = found.pop("gps_lat", None) or found.pop("gps_lon")
        problems.append(f"EXIF gps left empty: only one coordinate ({kept}) is readable")
    return PhotoFacts(found, tuple(problems))


def _short(error: BaseException) -> str:
    """One line of an error, at most 160 characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:160]


def _text(value: object) -> str | None:
    """An EXIF ASCII value as text: bytes decoded, NULs and blanks stripped; None when empty."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__} {value!r:.40}")
    text = value.replace("\x00", " ").strip()
    return text[:MAX_TEXT] or None


def _taken(sub: Mapping[int, Any], base: Mapping[int, Any], found: dict[str, Any]) -> str | None:
    """DateTimeOriginal (else DateTime) as RFC 3339 UTC when its offset is known, else as the
    camera's clock said; the offset goes to ``taken_offset``. An absurd date is an error."""
    raw = _text(sub.get(ExifTags.Base.DateTimeOriginal)) or _text(base.get(ExifTags.Base.DateTime))
    if raw is None or raw.startswith("0000"):  # cameras write zeros for "no clock set"
        return None
    match = EXIF_DATE.match(raw)
    if match is None:
        raise ValueError(f"date {raw!r:.40} is not YYYY:MM:DD HH:MM:SS")
    try:
        moment = datetime(*(int(part) for part in match.groups()))
    except ValueError as error:  # month 13, day 45...
        raise ValueError(f"date {raw!r:.40} is not a date ({error})") from None
    offset = _text(sub.get(ExifTags.Base.OffsetTimeOriginal)) or _text(
        sub.get(ExifTags.Base.OffsetTime)
    )
    zone = _zone(offset) if offset else None
    aware = moment.replace(tzinfo=zone or UTC)
    if not FIRST_PHOTO <= aware <= datetime.now(UTC) + timedelta(days=2):
        raise ValueError(f"date {raw!r} is before the first photograph or in the future")
    if zone is not None:
        found["taken_offset"] = offset
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zone(offset: str) -> timezone | None:
    """'+02:00' -> that fixed zone; an offset of another shape is ignored (None)."""
    match = OFFSET.match(offset)
    if match is None or int(match[2]) > 14 or int(match[3]) >= 60:
        return None
    sign = -1 if match[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))


def _coordinate(gps: Mapping[int, Any], tag: int, refs: str, limit: float) -> float | None:
    """A GPS latitude or longitude (degrees, minutes, seconds and its N/S or E/W reference) in
    signed degrees, rounded to 7 places (about 1 cm); outside +-limit is an error."""
    value = gps.get(tag)
    if value is None:
        return None
    parts = [float(x) for x in (value if isinstance(value, tuple | list) else (value,))]
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"{len(parts)} numbers where degrees, minutes, seconds are expected")
    degrees = sum(p / 60**i for i, p in enumerate(parts))
    ref = _text(gps.get(tag - 1)) or refs[0]  # GPSLatitudeRef is the tag before GPSLatitude
    if ref.upper()[:1] not in refs:
        raise ValueError(f"reference {ref!r:.10} is none of {', '.join(refs)}")
    if not math.isfinite(degrees) or abs(degrees) > limit:
        raise ValueError(f"{degrees!r:.12} degrees is outside -{limit:g}..{limit:g}")
    signed = -degrees if ref.upper()[:1] == refs[1] else degrees
    return round(signed, 7)


def _orientation(value: object) -> int | None:
    """EXIF orientation 1-8."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 8:
        raise ValueError(f"{value!r:.20} is not an orientation 1-8")
    return value


def with_photo_facts(
    session: Session,
    collection_id: int,
    facts: PhotoFacts,
    metadata: Mapping[str, Any],
    where: str,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """An item's metadata with its photo facts under it, and why each fact was left out: the
    user's fields win, a fact whose field holds another kind in this collection is left out,
    and every field left empty is also logged with ``where`` (the job and the file)."""
    problems = list(facts.problems)
    taken: dict[str, Any] = {}
    if facts.fields:
        registry = repository.field_registry(session, collection_id)
        room = MAX_FIELDS - len(metadata)
        for name, value in facts.fields.items():
            kind, known = kind_of(value), registry.get(name)
            if name in metadata:
                continue
            if known is not None and known != kind:
                problems.append(f"EXIF {name} left out: the collection's {name} holds {known}")
            elif len(taken) < room:
                taken[name] = value
    for problem in problems:  # INFO, as the item's other notes: the image is indexed all the same
        log.info("%s: %s", where, problem)
    return {**taken, **metadata}, tuple(problems)


def item_order(sort: str) -> list[ColumnElement[Any]]:
    """ORDER BY of an item listing (see :data:`SORTS`); dates are RFC 3339 UTC text, so they
    order as text. Raises ValueError for another ``sort``."""
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    if sort == "id":
        return [Item.id.asc()]
    taken = Item.meta["taken"].as_string()
    return [taken.is_(None), taken.desc() if sort.startswith("-") else taken.asc(), Item.id.asc()]


def list_items(
    session: Session, collection: str, sort: str, offset: int, limit: int
) -> list[dict[str, Any]]:
    """A page of a collection's items (id, path, status, metadata) in ``sort`` order."""
    owner = repository.get_collection(session, collection)
    rows = session.scalars(
        select(Item)
        .where(Item.collection_id == owner.id)
        .order_by(*item_order(sort))
        .offset(offset)
        .limit(limit)
    )
    return [
        {"id": r.id, "path": r.source_uri, "status": r.status.value, "metadata": r.meta or {}}
        for r in rows
    ]
