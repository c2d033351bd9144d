"""FourM against the official-format fixtures: every case, every checkpoint layout.

Expected numbers come from the unmodified reference implementation (see the fixture README):
logits must agree within 1e-4, argmax tokens and generated tokens exactly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from anyseek.model import GenerationTarget, ModalityTokens, load_fourm
from anyseek.model.fourm.inference.predict import predict_logits, predict_tokens
from anyseek.model.fourm.inference.sampling import empty_sequence_target, generate
from anyseek.model.fourm.inputs import prepare_inputs
from anyseek.model.fourm.modalities import S1_ID

ATOL = 1e-4
LAYOUTS = ("single_file", "hub_folder", "hub_config_single_weights")


@pytest.fixture(scope="module")
def index(fourm_fixtures: Path) -> dict:
    """The fixture index (cases, configs, ids)."""
    return json.loads((fourm_fixtures / "index.json").read_text())


@pytest.fixture(scope="module", params=LAYOUTS)
def fm(request, fourm_fixtures: Path, tmp_path_factory):
    """The fixture FM loaded from each layout (incl. the official HF repo's: config + (a) file)."""
    if request.param == "single_file":
        source = fourm_fixtures / "fm" / "model.safetensors"
    elif request.param == "hub_folder":
        source = fourm_fixtures / "fm" / "hub"
    else:
        source = tmp_path_factory.mktemp("hf_repo")
        shutil.copy(fourm_fixtures / "fm" / "hub" / "config.json", source / "config.json")
        (source / "model.safetensors").symlink_to(fourm_fixtures / "fm" / "model.safetensors")
    return load_fourm(source)


def condition_inputs(name: str, inputs: dict[str, torch.Tensor]) -> dict:
    """The inputs of a fixture condition set (``rgb@224+caption``, ``caption_custom_text``...)."""
    if name == "caption_custom_text":
        return {
            "caption": ModalityTokens(
                inputs["custom_text.caption.tensor"], inputs["custom_text.caption.input_mask"]
            )
        }
    return {m: inputs[f"fm_input.{m}.tensor"] for m in name.split("+")}


def test_every_global_case(fm, index, inputs, expected) -> None:
    """Single-pass logits, max/logsumexp and argmax of all 11 condition/target cases."""
    for case in index["fm_global_cases"]:
        key = f"{case['name']}.{case['target']}"
        logits = predict_logits(fm, condition_inputs(case["name"], inputs), case["target"])
        assert logits.shape == (2, 16, 8192) and logits.dtype == torch.float32
        if case["full_logits_key"]:
            torch.testing.assert_close(
                logits, expected[case["full_logits_key"]], atol=ATOL, rtol=0, msg=key
            )
        else:
            at = logits[:, case["logits_at_positions"]]
            torch.testing.assert_close(
                at, expected[f"fm.logits_at_positions.{key}"], atol=ATOL, rtol=0, msg=key
            )
        torch.testing.assert_close(
            logits.max(-1).values, expected[f"fm.max_logit.{key}"], atol=ATOL, rtol=0, msg=key
        )
        torch.testing.assert_close(
            logits.logsumexp(-1), expected[f"fm.logsumexp.{key}"], atol=ATOL, rtol=0, msg=key
        )
        assert torch.equal(logits.argmax(-1), expected[case["argmax_key"]]), key


def test_dense_target(fm, index, inputs, expected) -> None:
    """All 196 tok_depth@224 positions from rgb in one pass."""
    for case in index["fm_dense_cases"]:
        prefix = case["prefix"]
        logits = predict_logits(fm, condition_inputs(case["name"], inputs), case["target"])
        assert torch.equal(logits.argmax(-1), expected[f"{prefix}.argmax"])
        torch.testing.assert_close(
            logits[:, case["positions"]],
            expected[f"{prefix}.logits_at_positions"],
            atol=ATOL,
            rtol=0,
        )
        torch.testing.assert_close(
            logits.logsumexp(-1), expected[f"{prefix}.logsumexp"], atol=ATOL, rtol=0
        )


def test_predict_tokens_matches_single_target_passes(fm, inputs, expected) -> None:
    """Both global spaces from one encoder + one decoder pass equal separate reference passes."""
    cond = condition_inputs("rgb@224+caption", inputs)
    tokens = predict_tokens(fm, cond, ["tok_dinov2_global", "tok_imagebind_global"])
    for target in ("tok_dinov2_global", "tok_imagebind_global"):
        assert torch.equal(tokens[target], expected[f"fm.argmax.rgb@224+caption.{target}"])


def test_roar_generation_with_and_without_guidance(fm, index, inputs, expected) -> None:
    """Chained ROAR greedy generation, cfg 1.0 and 2.0 with grow-conditioning, token for token."""
    for case in index["generate_cases"]:
        args = case["schedule_args"]
        if args["autoregression_schemes"][0] != "roar":
            continue
        targets = [
            GenerationTarget(t, num_tokens=n, scheme=s, steps=k, temperature=temp, cfg_scale=cfg)
            for t, n, s, k, temp, cfg in zip(
                args["target_domains"],
                args["tokens_per_target"],
                args["autoregression_schemes"],
                args["decoding_steps"],
                args["temps"],
                args["cfg_scales"],
                strict=True,
            )
        ]
        cond = {m: inputs[f"fm_input.{m}.tensor"] for m in args["cond_domains"]}
        out = generate(
            fm,
            cond,
            targets,
            seed=case["generate_kwargs"]["seed"],
            cfg_grow_conditioning=args["cfg_grow_conditioning"],
        )
        for t in args["target_domains"]:
            assert torch.equal(out[t].tensor, expected[f"{case['name']}.{t}"]), (case["name"], t)
            assert not out[t].input_mask.any()


def test_roar_visiting_order_follows_the_seed(fm, index, expected) -> None:
    """The ROAR order of seed s is argsort(rand(16)) of a generator seeded with s."""
    seed = index["fm_global_cases"][0]["roar_seed"]
    order = torch.argsort(torch.rand(16, generator=torch.Generator().manual_seed(seed)))
    assert torch.equal(order.expand(2, 16), expected["fm.roar_order.rgb@224.tok_dinov2_global"])


def test_autoregressive_caption(fm, index, inputs, expected) -> None:
    """Greedy caption from rgb: merged ids, mask, and the first step's logits."""
    case = next(c for c in index["generate_cases"] if c["name"] == "generate.caption_greedy")
    rgb = inputs["fm_input.rgb@224.tensor"]
    out = generate(
        fm,
        {"rgb@224": rgb},
        [GenerationTarget("caption", num_tokens=24)],
        seed=case["generate_kwargs"]["seed"],
    )
    assert torch.equal(out["caption"].tensor, expected["generate.caption_greedy.tensor"])
    assert torch.equal(out["caption"].input_mask, expected["generate.caption_greedy.input_mask"])
    # Step 0 through the primitives: the decoder sees [S_1] at position 0.
    sample = prepare_inputs({"rgb@224": rgb}, fm.config, fm.input_modalities, fm.device, fm.dtype)
    sample["caption"] = empty_sequence_target(2, 24, fm.device)
    ctx = fm.encode(fm.embed_inputs(sample))
    emb = fm.decoder_embedding("caption")
    y = emb.token_emb(torch.full((2, 1), S1_ID)) + emb.query_emb(torch.zeros(1, 1, dtype=int))
    logits = fm.logits("caption", fm.decode(y, ctx))[:, 0]
    torch.testing.assert_close(
        logits, expected["generate.caption_greedy.step0_logits"], atol=ATOL, rtol=0
    )
    assert torch.equal(logits.argmax(-1), expected["generate.caption_greedy.step_argmax"][:, 0])


def test_layouts_load_identical_weights(fourm_fixtures: Path) -> None:
    """Hub layout (de-duplicated mod_emb) and single file give the same parameters, shared."""
    a = load_fourm(fourm_fixtures / "fm" / "model.safetensors").state_dict()
    hub = load_fourm(fourm_fixtures / "fm" / "hub")
    b = hub.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    shared = hub.encoder_embeddings["caption"].mod_emb
    assert hub.decoder_embeddings["caption"].mod_emb is shared
