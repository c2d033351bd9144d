"""Bad inputs and bad checkpoints give a clear AnyseekError naming the problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from anyseek.errors import AnyseekError
from anyseek.model import load_fourm
from anyseek.model.fourm.checkpoint import CheckpointError
from anyseek.model.fourm.inference.predict import predict_embeddings, predict_logits
from anyseek.model.fourm.inference.sampling import generate
from anyseek.model.fourm.inputs import InputError
from anyseek.model.fourm.modalities import UnknownModalityError


@pytest.fixture(scope="module")
def fm(fourm_fixtures: Path):
    """The fixture FM (single-file layout)."""
    return load_fourm(fourm_fixtures / "fm" / "model.safetensors")


@pytest.fixture(scope="module")
def rgb(fourm_fixtures: Path) -> torch.Tensor:
    """A valid rgb@224 batch."""
    return load_file(fourm_fixtures / "inputs.safetensors")["fm_input.rgb@224.tensor"]


def ids(*rows: list[int]) -> torch.Tensor:
    """Caption id rows as a [B, L] int64 tensor."""
    return torch.tensor(rows, dtype=torch.long)


@pytest.mark.parametrize(
    ("inputs", "target", "error", "match"),
    [
        ({"rgb@999": None}, "tok_dinov2_global", UnknownModalityError, "multiple of the patch"),
        ({"rgb_hd@224": None}, "tok_dinov2_global", UnknownModalityError, "known:"),
        (
            {"tok_normal@224": torch.zeros(2, 196, dtype=torch.long)},
            "tok_dinov2_global",
            InputError,
            "not trained on input 'tok_normal@224'; its inputs are: rgb@224, caption",
        ),
        (
            {"caption": ids([5, 6, 3])},
            "tok_semseg@224",
            InputError,
            "cannot predict 'tok_semseg@224'; its outputs are: caption, tok_depth@224",
        ),
        ({"caption": ids([5, 6, 3])}, "caption", InputError, "use generate"),
        ({"caption": ids([5, 6, 3])}, "warp_drive", UnknownModalityError, "unknown modality"),
        (
            {"tok_dinov2_global": torch.zeros(1, 16, dtype=torch.long)},
            "tok_dinov2_global",
            InputError,
            "both an input and a target",
        ),
        (
            {"rgb@224": torch.zeros(2, 3, 128, 128)},
            "tok_dinov2_global",
            InputError,
            r"shape \[B, 3, 224, 224\], got \[2, 3, 128, 128\]",
        ),
        (
            {"rgb@224": torch.zeros(2, 3, 224, 224, dtype=torch.uint8)},
            "tok_dinov2_global",
            InputError,
            "floating-point",
        ),
        (
            {"rgb@224": torch.full((1, 3, 224, 224), float("nan"))},
            "tok_dinov2_global",
            InputError,
            "NaN",
        ),
        ({"tok_depth@224": torch.zeros(2, 196)}, "tok_dinov2_global", InputError, "integer tensor"),
        (
            {"tok_depth@224": torch.full((2, 196), 8192)},
            "tok_dinov2_global",
            InputError,
            r"\[0, 8192\)",
        ),
        (
            {"tok_depth@224": torch.zeros(2, 195, dtype=torch.long)},
            "tok_dinov2_global",
            InputError,
            "196",
        ),
        (
            {"caption": ids([4321, 5135, 0], [5047, 3, 0])},
            "tok_dinov2_global",
            InputError,
            r"sample\(s\) \[0\] have no \[EOS\]",
        ),
        ({"caption": ids([4321, 30000, 3])}, "tok_dinov2_global", InputError, "30000"),
        (
            {"caption": ids([5, 3]), "tok_depth@224": torch.zeros(3, 196, dtype=torch.long)},
            "tok_dinov2_global",
            InputError,
            "batch size",
        ),
        ({}, "tok_dinov2_global", InputError, "no inputs"),
    ],
)
def test_bad_inputs(fm, inputs, target, error, match) -> None:
    """Each mistake raises an AnyseekError subclass whose message names the problem."""
    with pytest.raises(error, match=match) as info:
        predict_logits(fm, inputs, target)
    assert isinstance(info.value, AnyseekError)


def test_bad_generation_requests(fm, rgb) -> None:
    """Unknown schemes and wrong target kinds are refused before any compute."""
    from anyseek.model import GenerationTarget

    with pytest.raises(InputError, match="unknown scheme"):
        generate(fm, {"rgb@224": rgb}, [GenerationTarget("tok_dinov2_global", scheme="zigzag")])
    with pytest.raises(InputError, match="does not fit"):
        generate(fm, {"rgb@224": rgb}, [GenerationTarget("caption", scheme="roar")])
    with pytest.raises(InputError, match="no targets"):
        generate(fm, {"rgb@224": rgb}, [])


def test_predict_embeddings_needs_decoders(fm, rgb) -> None:
    """A space without a decode() method is named."""
    with pytest.raises(InputError, match="tok_dinov2_global"):
        predict_embeddings(fm, {"rgb@224": rgb}, {"tok_dinov2_global": object()})


def _copy_hub(fourm_fixtures: Path, tmp_path: Path) -> Path:
    """A writable copy of the fixture hub folder."""
    folder = tmp_path / "hub"
    shutil.copytree(fourm_fixtures / "fm" / "hub", folder)
    return folder


def test_corrupt_and_truncated_files(fourm_fixtures: Path, tmp_path: Path) -> None:
    """Garbage or a cut-off download is reported as unreadable, with the path."""
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x13\x00\x00\x00\x00\x00\x00\x00not json at all")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_fourm(garbage)
    data = (fourm_fixtures / "fm" / "model.safetensors").read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.safetensors"):
        load_fourm(cut)


def test_config_not_matching_tensors(fourm_fixtures: Path, tmp_path: Path) -> None:
    """A config.json describing another model: the mis-shaped keys are listed."""
    folder = _copy_hub(fourm_fixtures, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["dim"] = 24
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"shape mismatch: .*file \(12,\) vs model \(24,\)"):
        load_fourm(folder)


def test_missing_and_unexpected_keys(fourm_fixtures: Path, tmp_path: Path) -> None:
    """A dropped tensor is listed as missing, a foreign one as unexpected."""
    source = fourm_fixtures / "fm" / "model.safetensors"
    tensors = load_file(source)
    from safetensors import safe_open

    with safe_open(str(source), "pt") as handle:
        metadata = handle.metadata()
    del tensors["decoder_norm.weight"]
    tensors["decoder.7.mlp.fc9.weight"] = torch.zeros(2)
    broken = tmp_path / "broken.safetensors"
    save_file(tensors, broken, metadata=metadata)
    with pytest.raises(CheckpointError) as info:
        load_fourm(broken)
    assert "missing: decoder_norm.weight" in str(info.value)
    assert "unexpected: decoder.7.mlp.fc9.weight" in str(info.value)


def test_config_with_unknown_modality(fourm_fixtures: Path, tmp_path: Path) -> None:
    """A config naming a modality we do not know fails at load time, naming it."""
    folder = _copy_hub(fourm_fixtures, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["domains_in"].append("tok_smell@224")
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="tok_smell"):
        load_fourm(folder)


def test_repo_id_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a network the error names the repo and the local folder layout to use."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CheckpointError) as info:
        load_fourm("EPFL-VILAB/4M-21_B")
    message = str(info.value)
    assert "EPFL-VILAB/4M-21_B" in message
    assert "config.json" in message and "model.safetensors" in message
