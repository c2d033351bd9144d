"""MultiMAE against the reference's recorded outputs, in every checkpoint layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fixture_layouts import MULTIMAE_FIXTURES

from anyseek.model.families.multimae import MultiMAE, MultiMAEInputError, load_multimae
from anyseek.model.families.multimae.masking import sample_visible
from anyseek.model.families.multimae.preprocess import (
    depth_unit,
    downsample_ids,
    normalize_rgb,
    standardize_depth,
)

ATOL = 1e-4  # the fixtures' suggested tolerance (about 10x the reference's own float32 noise)
PTH = "checkpoint/multimae-tiny-dev_multivit-a518ea13.pth"
TIMM = "checkpoint/multimae-tiny-dev_timm-2cbe2cb6.pth"
LAYOUTS = {  # layout name -> path under the fixture folder
    "pth": PTH,
    "safetensors": "checkpoint/model.safetensors",
    "folder": "checkpoint",
    "timm": TIMM,
}
FULL_LAYOUTS = ("pth", "safetensors", "folder")


def _index() -> dict:
    """The fixtures' case list (read at collection; the fixture below fails if it is absent)."""
    path = MULTIMAE_FIXTURES / "index.json"
    return json.loads(path.read_text()) if path.is_file() else {}


INDEX = _index()
ENCODE = {c["name"]: c for c in INDEX.get("encode_cases", [])} or {"missing": {}}
RECONSTRUCT = {c["name"]: c for c in INDEX.get("reconstruct_cases", [])} or {"missing": {}}


@pytest.fixture(scope="module")
def mm_inputs(multimae_fixtures: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(multimae_fixtures / "inputs.safetensors")


@pytest.fixture(scope="module")
def mm_expected(multimae_fixtures: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(multimae_fixtures / "expected.safetensors")


@pytest.fixture(scope="module")
def models(multimae_fixtures: Path) -> dict[str, MultiMAE]:
    torch.set_num_threads(1)
    return {name: load_multimae(multimae_fixtures / path) for name, path in LAYOUTS.items()}


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max())


ENCODE_PAIRS = [  # the timm layout holds the rgb encoder only
    (layout, case)
    for layout in LAYOUTS
    for case, spec in ENCODE.items()
    if layout != "timm" or spec.get("timm_compatible", True)
]


@pytest.mark.parametrize(("layout", "case"), ENCODE_PAIRS)
def test_encode_matches_reference(models, mm_inputs, mm_expected, layout, case):
    spec = ENCODE[case]
    inputs = {modality: mm_inputs[key] for modality, key in spec["inputs"]}
    with torch.no_grad():
        tokens = models[layout].encode(inputs)
    assert list(tokens.shape) == spec["shape"]
    assert _max_diff(tokens, mm_expected[spec["expected"]]) <= ATOL


@pytest.mark.parametrize("layout", FULL_LAYOUTS)
@pytest.mark.parametrize("case", list(RECONSTRUCT))
def test_reconstruct_matches_reference_per_sample(models, mm_inputs, mm_expected, layout, case):
    spec = RECONSTRUCT[case]
    inputs = {modality: mm_inputs[key] for modality, key in spec["inputs"]}
    visible = {modality: mm_inputs[key] for modality, key in spec["visible"]}
    with torch.no_grad():
        out = models[layout].reconstruct(inputs, visible)
    assert set(out) == set(spec["expected"])
    for name, key in spec["expected"].items():
        assert _max_diff(out[name], mm_expected[key]) <= ATOL, name


def test_unequal_visible_counts_are_decoded_per_sample(models, mm_inputs, mm_expected):
    """Sample 0 as in ``mixed`` (20 visible), sample 1 fully visible (108): no token leaks."""
    inputs = {m: mm_inputs[m] for m in ("rgb", "depth", "semseg")}
    visible = {
        m: torch.stack([mm_inputs[f"visible.mixed.{m}"][0], torch.ones(36, dtype=torch.bool)])
        for m in inputs
    }
    with torch.no_grad():
        out = models["pth"].reconstruct(inputs, visible)
    for name in ("rgb", "depth", "semseg", "norm_rgb"):
        assert _max_diff(out[name][:1], mm_expected[f"reconstruct.mixed.{name}"][:1]) <= ATOL
        assert _max_diff(out[name][1:], mm_expected[f"reconstruct.all_visible.{name}"][1:]) <= ATOL


def test_dirichlet_case_with_recorded_masks(models, mm_inputs, mm_expected):
    spec = INDEX["dirichlet_case"]
    inputs = {modality: mm_inputs[key] for modality, key in spec["inputs"]}
    visible = {m: mm_expected[key] == 0 for m, key in spec["visible_from"].items()}
    with torch.no_grad():
        out = models["safetensors"].reconstruct(inputs, visible)
    for name, key in spec["expected"].items():
        assert _max_diff(out[name], mm_expected[key]) <= ATOL, name


def test_dirichlet_sampler_replays_reference_masks_exactly(mm_expected):
    spec = INDEX["dirichlet_case"]
    layout = [(m, 36) for m, _ in spec["inputs"]]
    state = torch.get_rng_state()
    try:
        torch.manual_seed(spec["seed"])
        drawn = sample_visible(layout, 2, spec["num_encoded_tokens"], spec["alphas"])
    finally:
        torch.set_rng_state(state)
    assert torch.equal(drawn.task_sampling_dist, mm_expected["dirichlet.task_sampling_dist"])
    assert torch.equal(drawn.samples_per_task, mm_expected["dirichlet.samples_per_task"])
    assert torch.equal(drawn.ids_keep, mm_expected["dirichlet.ids_keep"])
    assert torch.equal(drawn.ids_restore, mm_expected["dirichlet.ids_restore"])
    for m, key in spec["visible_from"].items():
        assert torch.equal(drawn.visible[m], mm_expected[key] == 0)
    assert (sum(v.sum(1) for v in drawn.visible.values()) == spec["num_encoded_tokens"]).all()


@pytest.mark.parametrize("suffix", ["", "@128x80"])
def test_preprocessing_is_bit_exact(mm_inputs, suffix):
    assert torch.equal(
        normalize_rgb(mm_inputs[f"raw.rgb_uint8{suffix}"]), mm_inputs[f"rgb{suffix}"]
    )
    unit = depth_unit(mm_inputs[f"raw.depth_uint16{suffix}"])
    assert torch.equal(unit, mm_inputs[f"raw.depth_unit{suffix}"])
    assert torch.equal(standardize_depth(unit), mm_inputs[f"depth{suffix}"])
    ids = downsample_ids(mm_inputs[f"raw.semseg_full{suffix}"], 4)
    assert torch.equal(ids, mm_inputs[f"semseg{suffix}"])


def test_config_read_from_checkpoint_matches_fixture_config(models, multimae_fixtures):
    given = json.loads((multimae_fixtures / "checkpoint" / "config.json").read_text())
    for layout in FULL_LAYOUTS:
        assert models[layout].config.to_dict() == given, layout
    timm = models["timm"]
    assert list(timm.input_adapters) == ["rgb"] and not timm.output_adapters
    with pytest.raises(MultiMAEInputError, match="no output adapters"):
        timm.reconstruct({"rgb": torch.zeros(1, 3, 96, 96)})


def test_every_tensor_of_the_file_is_used(models, multimae_fixtures):
    sd = torch.load(multimae_fixtures / PTH, map_location="cpu", weights_only=True)["model"]
    loaded = models["pth"].state_dict()
    assert set(loaded) == set(sd)
    assert all(torch.equal(loaded[k], v) for k, v in sd.items())
