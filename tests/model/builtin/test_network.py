"""The built-in model's network: shapes, and rows that do not depend on their batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from anyseek.model.builtin.network import TEXT_GROUP_ROWS, BuiltinConfig, BuiltinModel, combine
from anyseek.model.builtin.text import WordVocab


@pytest.fixture(scope="module")
def tiny() -> BuiltinModel:
    torch.manual_seed(0)
    return BuiltinModel(BuiltinConfig.load(Path("tiny"))).eval()


def test_every_input_lands_on_the_unit_sphere_of_one_space(tiny: BuiltinModel) -> None:
    d = tiny.config.embed_dim
    inputs = {
        "rgb": torch.randn(3, 3, 64, 64),
        "depth": torch.randn(3, 1, 64, 64),
        "normal": torch.rand(3, 3, 64, 64) * 2 - 1,
        "semseg": torch.randint(0, 7, (3, 64, 64)),
        "sketch": torch.randn(3, 1, 64, 64).sign(),
        "edges": torch.randn(3, 1, 64, 64).sign(),
    }
    vocab = WordVocab(("a", "red", "cube"), buckets=tiny.config.text_buckets)
    inputs["caption"] = vocab.batch(["a red cube", "a cube", "blue"])
    for name, x in inputs.items():
        with torch.no_grad():
            v = tiny.embed(name, x)
        assert v.shape == (3, d), name
        torch.testing.assert_close(v.norm(dim=-1), torch.ones(3))


def test_a_row_does_not_depend_on_what_else_is_in_its_batch(tiny: BuiltinModel) -> None:
    # GroupNorm, not BatchNorm: a sketch alone and a sketch among depth maps embed alike
    sketch = torch.randn(2, 1, 64, 64).sign()
    depth = torch.randn(5, 1, 64, 64)
    with torch.no_grad():
        alone = tiny.embed_pixels("sketch", sketch)
        mixed = tiny.embed_mixed(["depth", "sketch"], {"depth": depth, "sketch": sketch})
    torch.testing.assert_close(mixed[5:], alone, atol=1e-5, rtol=1e-4)


def test_padding_a_caption_does_not_change_it(tiny: BuiltinModel) -> None:
    vocab = WordVocab(("a", "red", "cube", "and", "blue", "ball"), buckets=256)
    short = vocab.batch(["a red cube"])
    padded = vocab.batch(["a red cube", "a red cube and a blue ball"])[:1]
    assert padded.shape[1] > short.shape[1]
    with torch.no_grad():
        torch.testing.assert_close(
            tiny.embed_text(padded), tiny.embed_text(short), atol=1e-5, rtol=1e-4
        )


def test_a_large_batch_of_captions_encoded_in_groups_by_length_is_encoded_as_one(
    tiny: BuiltinModel,
) -> None:
    vocab = WordVocab(("a", "red", "cube", "and", "blue", "ball"), buckets=256)
    words = ["a", "red", "cube", "and", "blue", "ball"]
    rng = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 30, (3 * TEXT_GROUP_ROWS + 5,), generator=rng).tolist()
    captions = [" ".join(words[(i + k) % 6] for k in range(n)) for i, n in enumerate(lengths)]
    batch = vocab.batch(captions)
    text = tiny.text
    assert text is not None and len(batch) > TEXT_GROUP_ROWS
    with torch.no_grad():
        grouped = text(batch)
        whole = text.encode(batch)  # every row padded to the longest, one pass
    torch.testing.assert_close(grouped, whole, atol=1e-5, rtol=1e-4)
    # and gradients reach every row's words through the groups
    grouped = text(batch)
    grouped.sum().backward()
    assert text.words.weight.grad is not None and text.words.weight.grad.abs().sum() > 0


def test_rows_alike_are_encoded_once_with_every_rows_vector_and_gradient(
    tiny: BuiltinModel,
) -> None:
    vocab = WordVocab(("a", "red", "cube", "and", "blue", "ball"), buckets=256)
    distinct = ["a red cube", "a blue ball", "red", "a red cube and a blue ball", "blue"]
    captions = [distinct[i % len(distinct)] for i in range(3 * TEXT_GROUP_ROWS)]
    batch = vocab.batch(captions)
    text = tiny.text
    assert text is not None
    calls: list[int] = []
    original = text.encode

    def counted(words: torch.Tensor) -> torch.Tensor:
        calls.append(len(words))
        return original(words)

    text.encode = counted  # type: ignore[method-assign]
    try:
        weights = torch.randn(len(captions), tiny.config.embed_dim)
        text.zero_grad()
        (text(batch) * weights).sum().backward()
        once = text.words.weight.grad.clone()
        encoded_once = sum(calls)
        text.zero_grad()
        every = text.grouped(batch)  # each row through the tower, as before
        (every * weights).sum().backward()
    finally:
        del text.encode
    assert encoded_once == len(distinct)  # the tower saw each distinct caption once
    torch.testing.assert_close(text(batch), every, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(once, text.words.weight.grad, atol=1e-5, rtol=1e-4)


def test_combining_is_a_normalised_weighted_sum() -> None:
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    torch.testing.assert_close(
        combine({"a": a, "b": b}, {}), torch.tensor([[0.7071, 0.7071]]), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(
        combine({"a": a, "b": b}, {"b": -1.0}), torch.tensor([[0.7071, -0.7071]]), atol=1e-4, rtol=0
    )


def test_a_config_with_an_unknown_key_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="widht"):
        BuiltinConfig.from_json({"widht": [8, 16]})


def test_a_misspelt_word_is_read_by_its_letters_and_reported() -> None:
    vocab = WordVocab(("a", "red", "cube", "cylinder", "cone"), buckets=2048)
    right, wrong = vocab.encode("cylinder")[0], vocab.encode("cyllinder")[0]
    assert right[0] > 1 and wrong[0] == 1  # unknown as a word ...
    shared = set(right[1:].tolist()) & set(wrong[1:].tolist()) - {0}
    assert len(shared) >= 5  # ... but most of its letter trigrams are the known word's
    # "with" is not in this vocabulary either, but a function word is never warned about
    assert vocab.warnings("a rde cube with stripes") == [
        'unknown word "rde" (read like "red")',
        'unknown word "stripes"',
    ]
    assert vocab.readable("a rde cueb") and not vocab.readable("zebra stripes")
    assert vocab.unknown_words("a cyllinder and a teal ball") == [
        "cyllinder",
        "and",
        "cyan",
        "ball",
    ]


def test_a_word_far_from_every_known_word_is_left_out() -> None:
    vocab = WordVocab(("a", "red", "cube"), buckets=2048)
    plain = vocab.encode("a red cube")
    torch.testing.assert_close(vocab.encode("please a burgundy red cube"), plain)
    assert vocab.encode("a rde cube").shape[0] == 3  # one edit from "red": read by its letters
    assert vocab.near_known("turqoise") == "turquoise"  # a synonym, misspelt, is read too
    assert vocab.encode("zebra stripes").tolist() == vocab.encode(".").tolist()  # nothing read


def test_a_batch_of_captions_is_each_caption_encoded_and_padded_with_zero_rows() -> None:
    vocab = WordVocab(("a", "red", "cube", "cylinder", "cone"), buckets=2048, max_words=6)
    captions = [
        "a red cube", "", "zebra stripes", "a cyllinder", "a teal pyramid",
        "a red cube a red cube a red cube", "cone", "A RED CONE, a cube.",
    ]  # fmt: skip
    batch = vocab.batch(captions)
    assert batch.shape == (len(captions), 6, 13) and batch.dtype == torch.long
    for row, caption in zip(batch, captions, strict=True):
        words = vocab.encode(caption)
        assert torch.equal(row[: len(words)], words), caption
        assert not row[len(words) :].any(), caption  # padding is all zeros
    assert vocab.batch(["a", "a red"]).shape == (2, 2, 13)  # as long as its longest caption


def _square_twice(model: BuiltinModel) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One square drawn top left and bottom right: the trunk's last stage [2, C, G, G], the two
    embeddings, and how far the flattened grids of the two agree (their correlation)."""
    page = -torch.ones(2, 1, 64, 64)
    page[0, :, 4:20, 4:20] = 1
    page[1, :, 44:60, 44:60] = 1
    with torch.no_grad():
        features = model.trunk.stages(model.stems["sketch"](page))
        vectors = model.embed_pixels("sketch", page)
        where = torch.corrcoef(model.trunk.pool(features).flatten(1))[0, 1]
    return features, vectors, where


def test_a_max_pooled_trunk_sees_an_object_wherever_it_is() -> None:
    from dataclasses import replace

    config = BuiltinConfig.load(Path("tiny"))
    assert config.max_pool  # the tests' variant has the shipped max, as max_pool.json does
    torch.manual_seed(0)
    model = BuiltinModel(config).eval()
    plain = BuiltinModel(replace(config, max_pool=False))
    extra = config.widths[-1]  # the last stage's channels join the head's input
    assert model.trunk.head.in_features == plain.trunk.head.in_features + extra
    features, vectors, where = _square_twice(model)
    assert vectors.shape == (2, config.embed_dim)
    anywhere = torch.corrcoef(features.amax((-2, -1)))[0, 1]
    assert anywhere > where + 0.1, (anywhere, where)  # the max agrees more than the grid does
    assert BuiltinConfig.from_json({}).max_pool is False  # bundles from before it load as they were


def test_attention_queries_read_an_object_wherever_it_is() -> None:
    from dataclasses import replace

    config = replace(BuiltinConfig.load(Path("tiny")), attn_queries=3)
    torch.manual_seed(0)
    model = BuiltinModel(config).eval()
    extra = 3 * config.widths[-1]  # each query hands the head one average of the cells
    plain = BuiltinModel(replace(config, attn_queries=0))
    assert model.trunk.head.in_features == plain.trunk.head.in_features + extra
    features, vectors, where = _square_twice(model)
    with torch.no_grad():
        objects = model.trunk.readout(features)
    assert objects.shape == (2, extra) and vectors.shape == (2, config.embed_dim)
    assert torch.corrcoef(objects)[0, 1] > where + 0.1  # the readout agrees more than the grid
    assert BuiltinConfig.from_json({}).attn_queries == 0  # bundles from before it load as they were


def test_a_widened_maximum_reads_an_object_wherever_it_is_through_more_channels() -> None:
    from dataclasses import replace

    config = replace(BuiltinConfig.load(Path("tiny")), max_width=48)
    torch.manual_seed(0)
    model = BuiltinModel(config).eval()
    narrow = BuiltinModel(replace(config, max_width=0))
    extra = 48 - config.widths[-1]  # the widened channels replace the last stage's in the max
    assert model.trunk.head.in_features == narrow.trunk.head.in_features + extra
    features, vectors, where = _square_twice(model)
    with torch.no_grad():
        widened = model.trunk.widen(features)
    assert widened.shape[1] == 48 and vectors.shape == (2, config.embed_dim)
    assert torch.corrcoef(widened.amax((-2, -1)))[0, 1] > where + 0.1  # the max agrees more
    wide = BuiltinConfig.load(Path("max_pool_wide"))
    assert replace(wide, max_width=0) == BuiltinConfig.load(Path("max_pool"))  # only the width
    assert BuiltinConfig.from_json({}).max_width == 0  # bundles from before it load as they were
