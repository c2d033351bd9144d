"""The built-in model as files: written, read back the same, and refused by name when broken."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from anyseek.model.builtin.bundle import (
    BuiltinBundleError,
    is_builtin_bundle,
    load_builtin_bundle,
    save_builtin_bundle,
)
from anyseek.model.builtin.network import BuiltinConfig, BuiltinModel
from anyseek.model.builtin.text import WordVocab


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    config = BuiltinConfig.load(Path("tiny"))
    vocab = WordVocab(("a", "red", "cube"), buckets=config.text_buckets)
    return save_builtin_bundle(
        tmp_path / "b", BuiltinModel(config).eval(), vocab, {"recipe": "test"}
    )


def test_a_saved_bundle_loads_back_with_the_same_outputs(bundle: Path) -> None:
    assert is_builtin_bundle(bundle) and not is_builtin_bundle(bundle.parent)
    first, second = load_builtin_bundle(bundle), load_builtin_bundle(bundle)
    x = torch.randn(2, 1, 64, 64)
    torch.testing.assert_close(first.model.embed("depth", x), second.model.embed("depth", x))
    assert first.manifest["recipe"] == "test"
    assert first.declarations.inputs["sketch@64"].query == "sketch"
    assert first.declarations.space_names == {"bind_global": "bind"}


@pytest.mark.parametrize(
    ("damage", "names"),
    [
        (lambda b: (b / "model.safetensors").unlink(), "model.safetensors"),
        (lambda b: (b / "model.safetensors").write_bytes(b"not weights"), "model.safetensors"),
        (lambda b: (b / "vocab.json").unlink(), "vocab.json"),
        (lambda b: (b / "config.json").write_text('{"embed_dim": 48}'), "model.safetensors"),
        (lambda b: (b / "config.json").write_text('{"size": 48}'), "config.json"),
    ],
)
def test_a_broken_part_is_named(bundle: Path, damage, names: str) -> None:
    damage(bundle)
    with pytest.raises(BuiltinBundleError, match=re.escape(names)):
        load_builtin_bundle(bundle)


def test_declarations_that_do_not_fit_are_refused(bundle: Path) -> None:
    manifest = json.loads((bundle / "bundle.json").read_text())
    del manifest["inputs"]["sketch@64"]
    (bundle / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BuiltinBundleError, match=r"bundle\.json"):
        load_builtin_bundle(bundle)


@pytest.mark.parametrize(("family", "read"), [("builtin", True), ("bind", True), ("bound", False)])
def test_a_bundle_is_read_by_its_family_today_and_as_v1_to_v9_wrote_it(
    bundle: Path, family: str, read: bool
) -> None:
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["family"] == "builtin"  # what a bundle is written as now
    (bundle / "bundle.json").write_text(json.dumps({**manifest, "family": family}))
    assert is_builtin_bundle(bundle) is read
    if read:
        assert load_builtin_bundle(bundle).manifest["family"] == family
    else:
        with pytest.raises(BuiltinBundleError):
            load_builtin_bundle(bundle)
