"""What a person can search with: one declaration per query modality.

The API's JSON checks and multipart fields, the CLI's options, ``GET /v1/model``, the web page's
part editors and the docs table are all derived from :data:`QUERY_KINDS`, so adding a query
modality is one entry here. A model family then says which of them it takes and which transform
settings it reads them with (``anyseek.model.families``); a family cannot offer a query modality
that is not declared here. The page has one editor per ``editor`` kind
(``api/static/js/editors.js``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

ValueKind = Literal["file", "text", "structured"]
#: the page's part editors: a text box, a drawing pad, a class painter, a depth painter with a
#: file opener, an image opener, a plain file opener, and a JSON box
EDITORS = ("text", "sketch", "paint", "depth", "image", "file", "json")
IMAGE_FORMATS = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tiff", "avif", "heic")


@dataclass(frozen=True)
class QueryKind:
    """One query modality as people give it: how it arrives, what it accepts, how it is edited."""

    name: str  # the part's name in the API, the CLI option and the page, e.g. "sketch"
    value: ValueKind  # a file (uploaded bytes or a path), text, or a JSON value
    transform: str  # the model.transforms kind that reads it by default; "" for text and JSON
    editor: str  # the page's part editor, one of EDITORS
    label: str  # what the page and the docs call it, e.g. "Sketch"
    help: str  # one line for the form field, the CLI option and the docs table
    formats: tuple[str, ...] = ()  # accepted file types (file kinds only)
    option: str = ""  # the CLI option's name when it is not the modality's name
    example: str = ""  # a value to show (text and JSON kinds)

    def __post_init__(self) -> None:
        """Refuse an entry the derived surfaces could not render."""
        if self.editor not in EDITORS:
            raise ValueError(f"query kind {self.name!r}: editor must be one of {EDITORS}")
        if (self.value == "file") != bool(self.formats):
            raise ValueError(f"query kind {self.name!r}: file kinds, and only they, list formats")

    @property
    def cli_option(self) -> str:
        """The ``anyseek search`` option that gives it, e.g. ``--sketch``."""
        return "--" + (self.option or self.name).replace("_", "-")

    def to_json(self) -> dict[str, Any]:
        """What ``GET /v1/model`` says of it."""
        return {
            "name": self.name,
            "value": self.value,
            "editor": self.editor,
            "label": self.label,
            "help": self.help,
            "formats": list(self.formats),
            "example": self.example or None,
        }


QUERY_KINDS: dict[str, QueryKind] = {
    kind.name: kind
    for kind in (
        QueryKind(
            "caption", "text", "", "text", "Caption", "words describing the image",
            example="a red cube left of a blue sphere",
        ),
        QueryKind(
            "sketch", "file", "sketch", "sketch", "Sketch",
            "a line drawing, dark on light or light on dark", IMAGE_FORMATS,
        ),
        QueryKind(
            "semseg", "file", "semseg", "paint", "Segmentation",
            "an indexed PNG of class ids, or an RGB PNG painted with the model's palette",
            ("png",),
        ),
        QueryKind(
            "depth", "file", "depth", "depth", "Depth",
            "a depth map: 16-bit or 8-bit PNG, or .npy, at any scale", ("png", "npy"),
        ),
        QueryKind(
            "edges", "file", "edges", "sketch", "Edges",
            "an edge map (e.g. Canny), either polarity",
            IMAGE_FORMATS,
        ),
        QueryKind(
            "sam_edges", "file", "edges", "file", "SAM edges",
            "the edges of a SAM instance map, either polarity", IMAGE_FORMATS,
        ),
        QueryKind(
            "normal", "file", "normal", "file", "Surface normals",
            "surface normals as an RGB image (x, y, z mapped to 0..255)", IMAGE_FORMATS,
        ),
        QueryKind(
            "color_palette", "structured", "", "json", "Colour palette",
            "colours as JSON: RGB triples or hex strings", option="palette",
            example='[[255, 0, 0], "#00ff00"]',
        ),
        QueryKind(
            "det", "structured", "", "json", "Boxes",
            "objects as JSON: class names with boxes (xmin, ymin, xmax, ymax) in 0..1",
            option="boxes",
            example='[["dog", [0, 0.2, 0.5, 1]]]',
        ),
        QueryKind(
            "metadata", "structured", "", "json", "Image metadata",
            "image metadata as a JSON object", example='{"brightness": 200}',
        ),
        QueryKind(
            "image", "file", "rgb", "image", "Image", "an image to search like", IMAGE_FORMATS
        ),
    )
}  # fmt: skip


def with_parameter_per_kind(
    func: Callable[..., Any], parameter: Callable[[QueryKind], inspect.Parameter], at: int = -1
) -> Callable[..., Any]:
    """Give ``func`` (which takes ``**kwargs``) one parameter per declared query modality, made by
    ``parameter`` and placed after its first ``at`` parameters (-1: last), so frameworks that
    read signatures (typer's options) list every declared kind."""
    signature = inspect.signature(func, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    at = len(fixed) if at < 0 else at
    made = [parameter(kind) for kind in QUERY_KINDS.values()]
    func.__signature__ = signature.replace(parameters=[*fixed[:at], *made, *fixed[at:]])  # type: ignore[attr-defined]
    return func


ITEM_NAMES = {"image": "rgb"}
"""Query modalities that an item's part calls by another name: a gallery image is ``rgb``."""
QUERY_NAMES = {item: query for query, item in ITEM_NAMES.items()}


def item_name(query: str) -> str:
    """What an item's part of a query modality is called (``image`` -> ``rgb``)."""
    return ITEM_NAMES.get(query, query)


def query_name(item: str) -> str:
    """The query modality an item's part is read with (``rgb`` -> ``image``; others as named)."""
    return QUERY_NAMES.get(item, item)


def query_kind(name: str) -> QueryKind | None:
    """The declaration of a query modality, or None when nothing declares that name."""
    return QUERY_KINDS.get(name)


def query_kinds_markdown(names: tuple[str, ...] | None = None) -> str:
    """The docs table of query modalities (all, or ``names`` in that order), from the entries."""
    rows = [
        "| modality | given as | accepts | CLI | page editor | what |",
        "|---|---|---|---|---|---|",
    ]
    for kind in (QUERY_KINDS[n] for n in (names or tuple(QUERY_KINDS))):
        accepts = ", ".join(kind.formats) or (f"`{kind.example}`" if kind.example else "text")
        given = {"file": "file", "text": "`text`", "structured": "JSON `value`"}[kind.value]
        rows.append(
            f"| `{kind.name}` | {given} | {accepts} | `{kind.cli_option}` | {kind.editor} "
            f"| {kind.help} |"
        )
    return "\n".join(rows) + "\n"
