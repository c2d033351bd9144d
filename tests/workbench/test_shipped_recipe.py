"""The committed built-in bundle was trained by the committed default recipe: the recipe file and
the bundle's own ``train_config.json`` say the same, so ``anyseek train default`` reproduces it."""

from __future__ import annotations

from anyseek.model.bundle.files import BUILTIN_DIR
from anyseek.workbench.recipe import load_recipe


def test_the_shipped_bundle_was_trained_by_the_default_recipe() -> None:
    assert load_recipe(str(BUILTIN_DIR / "train_config.json")) == load_recipe("default")
