"""One definition of the built-in model: its query inputs, global spaces and their short names.

Training (the FM's inputs and targets), evaluation (query kinds, space names in reports), the
bundle export (the transforms and palette ``bundle.json`` declares) and search (query modalities,
space short names) all read :data:`BUILTIN`, so adding an input or a space is one entry here (plus
its data in ``scenes`` and, for a space, its teacher). Every modality is named by its registry
base name (``normal``, never ``normals``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CAPTION_TRANSFORM = "caption"  # ids from the bundle's own text tokenizer
PALETTE_TRANSFORM = "palette_semseg"  # class ids or colours in the bundle's own palette


@dataclass(frozen=True)
class Space:
    """One global embedding space: its short name (stores, API, reports) and the FM output."""

    short: str  # e.g. "clip"
    output: str  # e.g. "tok_clip_global"


@dataclass(frozen=True)
class QueryInput:
    """One input of the model: registry base name, public query name and user-file transform."""

    base: str  # registry base name, e.g. "sketch" (the FM input is "sketch@<resolution>")
    transform: str = ""  # a model.transforms kind, "palette_semseg" or "caption"; "" = base
    query: str = ""  # what queries call it; "" = base
    settings: tuple[tuple[str, Any], ...] = ()  # the transform's settings that differ from its own

    @property
    def transform_kind(self) -> str:
        """The transform that turns a user's file into this input."""
        return self.transform or self.base

    @property
    def query_name(self) -> str:
        """The query-modality name the service, the API and the CLI use."""
        return self.query or self.base


@dataclass(frozen=True)
class InputTransform:
    """What ``bundle.json`` declares for one FM input: query name, transform kind and settings."""

    query: str
    transform: str
    params: tuple[tuple[str, Any], ...] = ()  # kept sorted by name: equal settings compare equal

    def __post_init__(self) -> None:
        """Sort the settings by name."""
        object.__setattr__(self, "params", tuple(sorted(self.params, key=lambda kv: kv[0])))

    def to_json(self) -> dict[str, Any]:
        """The ``bundle.json`` entry."""
        return {"query": self.query, "transform": self.transform, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InputTransform:
        """Read a ``bundle.json`` entry (KeyError / TypeError when malformed)."""
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be an object, got {params!r}")
        return cls(str(data["query"]), str(data["transform"]), tuple(params.items()))


@dataclass(frozen=True)
class BuiltinDefinition:
    """Inputs, spaces and evaluated query combinations of the built-in model; immutable."""

    pixel_inputs: tuple[QueryInput, ...]
    caption: QueryInput
    spaces: tuple[Space, ...]
    image: str = "rgb"  # the input gallery images are indexed from
    combinations: tuple[tuple[str, ...], ...] = ()  # multi-modality queries the evaluation runs

    @property
    def pixel_bases(self) -> tuple[str, ...]:
        """Base names of the pixel inputs, e.g. ``("rgb", "depth", ...)``."""
        return tuple(q.base for q in self.pixel_inputs)

    @property
    def inputs(self) -> tuple[QueryInput, ...]:
        """Every input: the pixel ones, then the caption."""
        return (*self.pixel_inputs, self.caption)

    def pixel_modalities(self, resolution: int) -> list[str]:
        """FM pixel inputs at ``resolution``, e.g. ``sketch@64``."""
        return [f"{base}@{resolution}" for base in self.pixel_bases]

    def domains_in(self, resolution: int) -> tuple[str, ...]:
        """Every FM input name at ``resolution``, the caption last."""
        return (*self.pixel_modalities(resolution), self.caption.base)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The FM outputs, one per space, in definition order."""
        return tuple(s.output for s in self.spaces)

    def space_outputs(self) -> dict[str, str]:
        """Short space name -> FM output (``clip`` -> ``tok_clip_global``)."""
        return {s.short: s.output for s in self.spaces}

    def short_name(self, output: str) -> str:
        """The short name of an FM output; outputs not defined here lose ``tok_`` / ``_global``."""
        for space in self.spaces:
            if space.output == output:
                return space.short
        return output.removeprefix("tok_").removesuffix("_global")

    def query_input(self, base: str) -> QueryInput:
        """The defined input of a base name, or a plain one (its own transform) if not defined."""
        return next((q for q in self.inputs if q.base == base), QueryInput(base))

    def with_settings(self, settings: Mapping[str, Mapping[str, Any]]) -> BuiltinDefinition:
        """This definition with more transform settings for some inputs (base name -> setting ->
        value, e.g. ``{"sketch": {"content_box": True}}``): what a recipe's bundle declares when
        it reads an input otherwise than the definition does. A ValueError names an input the
        definition lacks."""
        unknown = sorted(set(settings) - set(self.pixel_bases))
        if unknown:
            raise ValueError(f"settings for unknown inputs {unknown}; known: {self.pixel_bases}")

        def changed(spec: QueryInput) -> QueryInput:
            extra = dict(settings.get(spec.base) or {})
            if not extra:
                return spec
            return dataclasses.replace(
                spec, settings=tuple({**dict(spec.settings), **extra}.items())
            )

        return dataclasses.replace(self, pixel_inputs=tuple(changed(q) for q in self.pixel_inputs))

    def input_transforms(self, domains_in: tuple[str, ...]) -> dict[str, InputTransform]:
        """FM input name -> what ``bundle.json`` declares for it, at each input's resolution."""
        out = {}
        for name in domains_in:
            base, _, res = name.partition("@")
            spec = self.query_input(base)
            out[name] = InputTransform(
                spec.query_name, spec.transform_kind, transform_params(spec, int(res or 0))
            )
        return out


def transform_params(spec: QueryInput, resolution: int) -> tuple[tuple[str, Any], ...]:
    """Every setting of an input's transform at ``resolution`` (none for captions)."""
    from anyseek.model.transforms import transform_for

    if spec.transform_kind == CAPTION_TRANSFORM:
        return ()
    if spec.transform_kind == PALETTE_TRANSFORM:
        return (("size", resolution), *spec.settings)
    transform = dataclasses.replace(
        transform_for(spec.transform_kind, resolution or None), **dict(spec.settings)
    )
    return tuple((f.name, getattr(transform, f.name)) for f in dataclasses.fields(transform))


def builtin_palette() -> Any:
    """The scene classes the built-in model was trained on, with their contact-sheet colours."""
    from anyseek.model.transforms.palette_semseg import ClassPalette
    from anyseek.model.transforms.semseg import SemsegClass
    from anyseek.model.vocabulary.classes import CLASS_COLOURS, CLASSES

    return ClassPalette(
        tuple(SemsegClass(i, name, tuple(int(c) for c in CLASS_COLOURS[i])) for i, name in CLASSES)
    )


BUILTIN = BuiltinDefinition(
    pixel_inputs=(
        QueryInput("rgb", query="image"),
        QueryInput("depth"),
        QueryInput("normal"),
        # a person's painting and sketch are of the whole scene, whatever the page's shape
        QueryInput("semseg", transform=PALETTE_TRANSFORM, settings=(("fit", "stretch"),)),
        QueryInput("sketch", settings=(("fit", "stretch"),)),
        QueryInput("edges"),
    ),
    caption=QueryInput("caption", transform=CAPTION_TRANSFORM),
    spaces=(Space("clip", "tok_clip_global"), Space("dino", "tok_dino_global")),
    combinations=(("caption", "sketch"), ("caption", "depth"), ("sketch", "semseg")),
)
