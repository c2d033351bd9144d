"""The built-in model's global spaces, registered if the modality registry lacks them.

The registry (``model.modalities``) is meant to list ``tok_clip_global`` and ``tok_dino_global``;
while an entry is missing, this derives it from ``tok_clip_global`` (same vocabulary, 16 tokens,
learned positions) so that the built-in model can be built and loaded. Once the registry has both
entries this does nothing.
"""

from __future__ import annotations

from dataclasses import replace

from model import modalities

BUILTIN_SPACES = ("tok_clip_global", "tok_dino_global")


def register_builtin_spaces() -> None:
    """Add any missing built-in global space to the registry (idempotent)."""
    base = modalities.REGISTRY["tok_clip_global"]
    for name in BUILTIN_SPACES:
        if name not in modalities.REGISTRY:
            modalities.REGISTRY[name] = replace(base, name=name)
