"""Photos with EXIF written by Pillow, as cameras write it (tests of ``anyseek.indexer.exif``)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import ExifTags, Image


def exif_jpeg(
    *,
    taken: str | None = None,
    offset: str | None = None,
    make: str | None = None,
    model: str | None = None,
    lens: str | None = None,
    gps: tuple[str, tuple, str, tuple] | None = None,
    orientation: int | None = None,
    colour: tuple[int, int, int] = (200, 40, 40),
    size: tuple[int, int] = (48, 32),
) -> bytes:
    """A small JPEG whose EXIF holds the given facts (each left out when None)."""
    exif = Image.Exif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    for tags, tag, value in (
        (exif, ExifTags.Base.Make, make),
        (exif, ExifTags.Base.Model, model),
        (exif, ExifTags.Base.Orientation, orientation),
        (sub, ExifTags.Base.DateTimeOriginal, taken),
        (sub, ExifTags.Base.OffsetTimeOriginal, offset),
        (sub, ExifTags.Base.LensModel, lens),
    ):
        if value is not None:
            tags[tag] = value
    if gps is not None:
        found = exif.get_ifd(ExifTags.IFD.GPSInfo)
        lat_ref, lat, lon_ref, lon = gps
        found[ExifTags.GPS.GPSLatitudeRef], found[ExifTags.GPS.GPSLatitude] = lat_ref, lat
        found[ExifTags.GPS.GPSLongitudeRef], found[ExifTags.GPS.GPSLongitude] = lon_ref, lon
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def corrupt_exif(data: bytes) -> bytes:
    """The JPEG with its EXIF block's IFD overwritten by garbage (the pixels intact)."""
    broken = bytearray(data)
    start = broken.find(b"Exif\x00\x00") + 6
    broken[start : start + 24] = b"\xff" * 24
    return bytes(broken)


PARIS = ("N", (48.0, 51.0, 29.6), "E", (2.0, 17.0, 40.2))  # 48.8582222, 2.2945
SYDNEY = ("S", (33.0, 51.0, 24.0), "E", (151.0, 12.0, 36.0))  # -33.8566667, 151.21


def write_library(folder: Path) -> dict[str, bytes]:
    """A small photo library: two photos with full EXIF, one with bad EXIF, one with a corrupt
    EXIF block, and a PNG without any; written under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = {
        "paris.jpg": exif_jpeg(
            taken="2024:06:15 14:30:00", offset="+02:00", make="Canon", model="EOS R6",
            lens="RF24-105mm F4 L IS USM", gps=PARIS, orientation=6, colour=(200, 40, 40),
        ),
        "sydney.jpg": exif_jpeg(
            taken="2023:01:02 09:00:00", make="Apple", model="iPhone 13", gps=SYDNEY,
            orientation=1, colour=(40, 90, 200),
        ),
        "bad.jpg": exif_jpeg(
            taken="2024:13:45 10:00:00", make="Nikon", orientation=9,
            gps=("N", (200.0, 0.0, 0.0), "E", (2.0, 0.0, 0.0)), colour=(40, 200, 40),
        ),
        "corrupt.jpg": corrupt_exif(exif_jpeg(taken="2022:02:02 02:02:02", colour=(90, 90, 20))),
        "plain.png": _png(),
    }  # fmt: skip
    for name, data in photos.items():
        (folder / name).write_bytes(data)
    return photos


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 40), (240, 240, 240)).save(out, "PNG")
    return out.getvalue()
