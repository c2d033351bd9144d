"""What a bundle declares about its inputs: transforms per input, class palette, space names.

``bundle.json`` carries, next to the parts it names::

    "inputs":      {"sketch@64": {"query": "sketch", "transform": "sketch",
                                  "params": {"size": 64, "thin": true, ...}}, ...}
    "palette":     [{"id": 0, "name": "background", "color": [40, 40, 48]}, ...]
    "space_names": {"tok_clip_global": "clip", ...}

so the service turns a user's file into exactly what the model was trained on. A bundle written
before these keys existed gets what the built-in definition says (today's transforms at each
input's resolution, the scene-class palette, ``clip`` / ``dino``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from anyseek.model.bundle.definition import (
    BUILTIN,
    CAPTION_TRANSFORM,
    PALETTE_TRANSFORM,
    BuiltinDefinition,
    InputTransform,
    builtin_palette,
)
from anyseek.model.transforms.palette_semseg import ClassPalette


class DeclarationError(ValueError):
    """A bundle's declarations are malformed or do not fit its FM."""


@dataclass(frozen=True)
class BundleDeclarations:
    """A bundle's input transforms (by FM input name), class palette and space short names."""

    inputs: dict[str, InputTransform]
    palette: ClassPalette | None
    space_names: dict[str, str]  # FM output -> short name

    def to_json(self) -> dict[str, Any]:
        """The ``bundle.json`` keys."""
        return {
            "inputs": {name: t.to_json() for name, t in self.inputs.items()},
            "palette": None if self.palette is None else self.palette.to_json(),
            "space_names": dict(self.space_names),
        }


def declare(
    domains_in: Sequence[str],
    outputs: Sequence[str],
    definition: BuiltinDefinition = BUILTIN,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> BundleDeclarations:
    """What a bundle of ``definition`` with these FM inputs and outputs declares; ``settings``
    (input base -> transform setting -> value) change how some inputs are read, e.g. a recipe's
    ``{"sketch": {"content_box": True}}`` (``BuiltinDefinition.with_settings``)."""
    if settings:
        definition = definition.with_settings(settings)
    inputs = definition.input_transforms(tuple(domains_in))
    return BundleDeclarations(
        inputs, _default_palette(inputs), {o: definition.short_name(o) for o in outputs}
    )


def _default_palette(inputs: Mapping[str, InputTransform]) -> ClassPalette | None:
    """The scene-class palette when an input reads segmentations in it."""
    return (
        builtin_palette()
        if any(t.transform == PALETTE_TRANSFORM for t in inputs.values())
        else None
    )


def read_declarations(
    manifest: Mapping[str, Any], domains_in: Sequence[str], outputs: Sequence[str]
) -> BundleDeclarations:
    """A manifest's declarations checked against the FM; missing keys get the built-in ones."""
    from anyseek.model.transforms import UserInputError

    try:
        if "inputs" in manifest:
            inputs = {k: InputTransform.from_json(v) for k, v in manifest["inputs"].items()}
        else:
            inputs = BUILTIN.input_transforms(tuple(domains_in))
        if "palette" in manifest:
            raw = manifest["palette"]
            palette = None if raw is None else ClassPalette.from_json(raw)
        else:
            palette = _default_palette(inputs)
        names = dict(manifest.get("space_names") or {o: BUILTIN.short_name(o) for o in outputs})
    except (KeyError, TypeError, ValueError, AttributeError, UserInputError) as exc:
        raise DeclarationError(f"unreadable input declarations ({exc})") from None
    if sorted(inputs) != sorted(domains_in):
        raise DeclarationError(
            f"declares inputs {sorted(inputs)}, but the FM takes {sorted(domains_in)}"
        )
    if sorted(names) != sorted(outputs):
        raise DeclarationError(
            f"names spaces {sorted(names)}, but the FM predicts {sorted(outputs)}"
        )
    for name, declared in inputs.items():  # build each once: bad kinds or settings fail here
        try:
            input_transform(declared, palette)
        except (TypeError, ValueError, UserInputError) as exc:
            raise DeclarationError(f"input {name!r}: {exc}") from None
    return BundleDeclarations(inputs, palette, names)


def input_transform(declared: InputTransform, palette: ClassPalette | None) -> Any:
    """The pixel transform a declaration names, with exactly its settings (None for captions)."""
    import dataclasses

    from anyseek.model.transforms import TRANSFORMS
    from anyseek.model.transforms.palette_semseg import PaletteSemsegTransform

    params = dict(declared.params)
    if declared.transform == CAPTION_TRANSFORM:
        if params:
            raise ValueError(f"the caption transform takes no settings, got {sorted(params)}")
        return None
    if declared.transform == PALETTE_TRANSFORM:
        if palette is None:
            raise ValueError("a palette_semseg input needs the bundle's palette")
        return PaletteSemsegTransform(palette, **params)
    if declared.transform not in TRANSFORMS:
        known = sorted([*TRANSFORMS, CAPTION_TRANSFORM, PALETTE_TRANSFORM])
        raise ValueError(f"unknown transform {declared.transform!r} (known: {known})")
    return dataclasses.replace(TRANSFORMS[declared.transform], **params)
