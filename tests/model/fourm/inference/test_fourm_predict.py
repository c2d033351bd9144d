"""predict_embeddings end to end, reduced precision, sampling options and the training forward."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from anyseek.model import (
    FourM,
    FourMConfig,
    GenerationTarget,
    ModalityTokens,
    load_fourm,
    load_vq_tokenizer,
    save_fourm,
)
from anyseek.model.fourm.inference.predict import predict_embeddings, predict_logits
from anyseek.model.fourm.inference.sampling import generate
from anyseek.model.fourm.inputs import InputError
from anyseek.model.fourm.modalities import PAD_ID


@pytest.fixture(scope="module")
def fm(fourm_fixtures: Path) -> FourM:
    """The fixture FM (hub layout)."""
    return load_fourm(fourm_fixtures / "fm" / "hub")


@pytest.fixture(scope="module")
def dinov2(fourm_fixtures: Path):
    """The fixture DINOv2-B14-global tokenizer (memcodes VQ-VAE)."""
    return load_vq_tokenizer(fourm_fixtures / "tokenizer_DINOv2-B14-global")


def test_predict_embeddings_end_to_end(fm, dinov2, inputs, expected) -> None:
    """rgb -> reference argmax tokens -> tokenizer decode -> unit vectors, from one encoder pass."""
    calls = []
    hook = fm.encoder_norm.register_forward_hook(lambda *_: calls.append(1))
    try:
        out = predict_embeddings(
            fm,
            {"rgb@224": inputs["fm_input.rgb@224.tensor"]},
            {"tok_dinov2_global": dinov2, "tok_imagebind_global": dinov2},
        )
    finally:
        hook.remove()
    assert len(calls) == 1
    for space in ("tok_dinov2_global", "tok_imagebind_global"):
        tokens = expected[f"fm.argmax.rgb@224.{space}"]
        reference = F.normalize(dinov2.decode(tokens).float(), dim=-1)
        assert out[space].shape == (2, 768) and out[space].dtype == torch.float32
        torch.testing.assert_close(out[space], reference, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out[space].norm(dim=-1), torch.ones(2))


def test_embeddings_are_batch_independent(fm, dinov2, inputs) -> None:
    """A sample's vector does not depend on what else is in the batch (padding is masked)."""
    caption = inputs["fm_input.caption.tensor"]
    both = predict_embeddings(fm, {"caption": caption}, {"tok_dinov2_global": dinov2})
    second = predict_embeddings(fm, {"caption": caption[1:]}, {"tok_dinov2_global": dinov2})
    torch.testing.assert_close(
        both["tok_dinov2_global"][1:], second["tok_dinov2_global"], atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize(
    ("dtype", "atol", "min_agree"), [(torch.bfloat16, 0.25, 0.9), (torch.float16, 0.05, 0.97)]
)
def test_reduced_precision_stays_close(
    fourm_fixtures, inputs, expected, dtype, atol, min_agree
) -> None:
    """bf16/fp16 logits stay near float32; most argmax tokens survive (see docs/model.md)."""
    fm16 = load_fourm(fourm_fixtures / "fm" / "model.safetensors", dtype=dtype)
    cond = {"rgb@224": inputs["fm_input.rgb@224.tensor"]}
    logits = predict_logits(fm16, cond, "tok_dinov2_global")
    assert logits.dtype == torch.float32
    reference = expected["fm.logits.rgb@224.tok_dinov2_global"]
    assert (logits - reference).abs().max() < atol
    agree = (logits.argmax(-1) == reference.argmax(-1)).float().mean()
    assert agree >= min_agree


def test_sampling_is_seeded(fm, inputs) -> None:
    """Temperature sampling repeats with a seed, changes with another; top_k=1 is greedy."""
    cond = {"rgb@224": inputs["fm_input.rgb@224.tensor"]}
    hot = [GenerationTarget("tok_dinov2_global", steps=4, temperature=1.0)]
    a = generate(fm, cond, hot, seed=7)["tok_dinov2_global"].tensor
    b = generate(fm, cond, hot, seed=7)["tok_dinov2_global"].tensor
    c = generate(fm, cond, hot, seed=8)["tok_dinov2_global"].tensor
    assert torch.equal(a, b) and not torch.equal(a, c)
    greedy = generate(fm, cond, ["tok_dinov2_global"], seed=7)["tok_dinov2_global"].tensor
    top1 = generate(
        fm, cond, [GenerationTarget("tok_dinov2_global", temperature=2.0)], top_k=1, seed=3
    )["tok_dinov2_global"].tensor
    assert torch.equal(greedy, top1)
    nucleus = generate(
        fm, cond, [GenerationTarget("tok_dinov2_global", temperature=1.0)], top_p=1e-9, seed=3
    )["tok_dinov2_global"].tensor
    assert torch.equal(greedy, nucleus)


@pytest.mark.parametrize("scheme", ["roar", "maskgit"])
def test_multi_step_decoding_fills_every_position(fm, inputs, scheme) -> None:
    """Several steps leave no position empty and keep ids in the vocabulary."""
    cond = {"caption": inputs["fm_input.caption.tensor"]}
    out = generate(fm, cond, [GenerationTarget("tok_depth@224", scheme=scheme, steps=5)], seed=0)
    depth = out["tok_depth@224"]
    assert depth.tensor.shape == (2, 196) and not depth.input_mask.any()
    assert int(depth.tensor.max()) < 8192


def test_explicit_mask_hides_tokens(fm, inputs) -> None:
    """A ModalityTokens input hides masked tokens: changing them does not change the output."""
    caption = inputs["custom_text.caption.tensor"]
    mask = inputs["custom_text.caption.input_mask"]
    other = caption.masked_fill(mask, 7)
    a = predict_logits(fm, {"caption": ModalityTokens(caption, mask)}, "tok_dinov2_global")
    b = predict_logits(fm, {"caption": ModalityTokens(other, mask)}, "tok_dinov2_global")
    torch.testing.assert_close(a, b)


def test_hidden_patches_do_not_matter(fm, inputs) -> None:
    """Pixels of patches hidden by an explicit input_mask do not influence the prediction."""
    rgb = inputs["fm_input.rgb@224.tensor"]
    mask = torch.zeros(2, 196, dtype=torch.bool)
    mask[:, 98:] = True  # hide the lower half of the patch grid
    noisy = rgb.clone()
    noisy[:, :, 112:] = torch.randn_like(noisy[:, :, 112:])
    a = predict_logits(fm, {"rgb@224": ModalityTokens(rgb, mask)}, "tok_dinov2_global")
    b = predict_logits(fm, {"rgb@224": ModalityTokens(noisy, mask)}, "tok_dinov2_global")
    c = predict_logits(fm, {"rgb@224": noisy}, "tok_dinov2_global")
    torch.testing.assert_close(a, b)
    assert (a - c).abs().max() > 1e-3
    with pytest.raises(InputError, match=r"input_mask must be a bool tensor of shape \[2, 196\]"):
        predict_logits(fm, {"rgb@224": ModalityTokens(rgb, mask[:, :10])}, "tok_dinov2_global")


def test_save_and_reload_round_trip(tmp_path: Path) -> None:
    """A freshly built model saved in the official single-file format reloads identically."""
    torch.manual_seed(1)
    model = FourM(FourMConfig.named("test_tiny")).eval()
    path = save_fourm(model, tmp_path / "tiny" / "model.safetensors")
    loaded = load_fourm(path)
    assert loaded.config == model.config
    sketch = torch.rand(2, 1, 224, 224)
    caption = torch.tensor([[4321, 5135, 3, 0], [5047, 3, 0, 0]])
    cond = {"sketch@224": sketch, "caption": caption}
    torch.testing.assert_close(
        predict_logits(loaded, cond, "tok_clip_global"),
        predict_logits(model, cond, "tok_clip_global"),
    )


def test_guided_and_sampled_captions(fm, inputs) -> None:
    """Caption generation with guidance and temperature: valid ids, seeded repeatability."""
    cond = {"rgb@224": inputs["fm_input.rgb@224.tensor"]}
    guided = generate(fm, cond, [GenerationTarget("caption", num_tokens=12, cfg_scale=3.0)])
    plain = generate(fm, cond, [GenerationTarget("caption", num_tokens=12)])
    assert not torch.equal(guided["caption"].tensor, plain["caption"].tensor)
    hot = [GenerationTarget("caption", num_tokens=12, temperature=1.0)]
    a = generate(fm, cond, hot, top_k=50, seed=5)["caption"]
    b = generate(fm, cond, hot, top_k=50, seed=5)["caption"]
    assert torch.equal(a.tensor, b.tensor)
    for out in (guided["caption"], a):
        ids = out.tensor[~out.input_mask]
        assert (ids != PAD_ID).all()  # padding only ever after the merged caption, hidden
        assert not any(4 <= int(i) <= 203 for i in ids)  # sentinels are merged away


def test_sample_without_visible_tokens_stays_finite(fm, inputs) -> None:
    """A sample whose input is fully hidden gets finite logits and leaves the other untouched."""
    caption = inputs["fm_input.caption.tensor"]
    mask = torch.zeros_like(caption, dtype=torch.bool)
    mask[1] = True
    mask[0] = caption[0] == 0
    out = predict_logits(fm, {"caption": ModalityTokens(caption, mask)}, "tok_dinov2_global")
    assert torch.isfinite(out).all()
    alone = predict_logits(fm, {"caption": caption[:1]}, "tok_dinov2_global")
    torch.testing.assert_close(out[:1], alone, atol=1e-5, rtol=1e-5)
