"""Training recipes as JSON files (like the model configs): ``recipes/<name>.json`` -> config.

A recipe lists only what differs from the dataclass defaults; nested sections (``clip``, ``visual``,
``tokenizer``, ``fm``, ``fm.masking``) become their config dataclasses, lists become tuples where
the field is a tuple. Unknown keys are refused, naming the key, so a typo never trains silently.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, TypeVar

from anyseek.errors import SettingsError

RECIPE_DIR = Path(__file__).with_name("recipes")
T = TypeVar("T")


def recipe_names() -> list[str]:
    """Names of the recipes shipped with anyseek."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.json"))


def build_config(cls: type[T], data: dict[str, Any], where: str) -> T:
    """Instantiate dataclass ``cls`` from nested plain data, checking every key."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = build_config(hint, value, f"{where}.{name}")
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**values)


def load_recipe(name_or_path: str | Path) -> Any:
    """The ``PipelineConfig`` of a shipped recipe name (``default``, ``ci``) or a JSON file."""
    from model.train.pipeline import PipelineConfig

    path = Path(name_or_path)
    if not path.suffix:
        path = RECIPE_DIR / f"{name_or_path}.json"
        if not path.is_file():
            raise SettingsError(
                f"unknown recipe {name_or_path!r}: choose one of {', '.join(recipe_names())}, "
                "or give a .json file"
            )
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SettingsError(f"recipe {path}: unreadable ({exc})") from None
    return build_config(PipelineConfig, data, path.name)
