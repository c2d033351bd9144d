"""The optional extras some commands need, and one clear error when an extra is not installed.

``pip install anyseek`` serves (API, indexing, search). The procedural scene generator (``demo``,
``data``, ``eval``) and training bring dependencies the service never imports, in the ``scenes``
and ``train`` extras of ``pyproject.toml``. A command calls :func:`require_extra` before it imports
``workbench``, so a missing extra is one line naming the ``pip install`` to run instead of an
``ImportError`` traceback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass

from anyseek.errors import MissingExtraError


@dataclass(frozen=True)
class Extra:
    """One extra of ``pyproject.toml``: its own distributions and the extras it includes."""

    modules: Mapping[str, str]  # distribution name -> the top-level module it installs
    includes: tuple[str, ...] = ()


EXTRAS: dict[str, Extra] = {
    "scenes": Extra({"numba": "numba", "scipy": "scipy"}),
    "train": Extra({}, ("scenes",)),  # the built-in model trains on the scenes with torch alone
    "export": Extra({"pyarrow": "pyarrow"}),
}
"""Kept equal to ``[project.optional-dependencies]`` by tests/cli/test_extras.py."""


def extra_modules(name: str) -> tuple[str, ...]:
    """Every module the extra ``name`` installs, those of the extras it includes first."""
    extra = EXTRAS[name]
    included = tuple(m for inner in extra.includes for m in extra_modules(inner))
    return included + tuple(extra.modules.values())


def missing_modules(name: str) -> list[str]:
    """The modules of the extra ``name`` that this interpreter cannot import."""
    return [m for m in extra_modules(name) if importlib.util.find_spec(m) is None]


def require_extra(name: str, command: str) -> None:
    """Stop ``command`` with one line naming the extra to install when a module of it is absent."""
    missing = missing_modules(name)
    if missing:
        raise MissingExtraError(
            f"`anyseek {command}` needs the {name!r} extra ({', '.join(missing)} not installed): "
            f"pip install 'anyseek[{name}]' (in a checkout: pip install -e '.[{name}]')"
        )
