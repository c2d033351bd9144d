"""Pieces of the training loop: the contrastive loss, one-object positives, a random person,
each pixel query's share of rows."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from anyseek.model.builtin.text import WordVocab
from anyseek.workbench.contrastive import info_nce
from anyseek.workbench.presence import encode_scenes, fits, presence_loss, trusted_rows
from anyseek.workbench.recipe import TrainRecipe, load_recipe
from anyseek.workbench.styles import RANDOM, random_person, style, training_styles
from anyseek.workbench.train import OBJECT, Batcher, fitting, lr_at, shifted, warped


def test_one_positive_each_is_plain_infonce() -> None:
    a, b = F.normalize(torch.randn(6, 8), dim=1), F.normalize(torch.randn(6, 8), dim=1)
    scale = torch.tensor(10.0)
    plain = info_nce(a, b, scale)
    assert torch.allclose(plain, info_nce(a, b, scale, torch.eye(6, dtype=torch.bool)))
    more = torch.eye(6, dtype=torch.bool)
    more[0, 3] = True  # scene 3 fits caption 0 too: less to push apart
    assert info_nce(a, b, scale, more) < plain


def test_a_one_object_caption_fits_every_scene_with_that_object() -> None:
    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    blue_ball = {"shape": "sphere", "color": "blue", "size": "large", "material": "rubber"}
    scenes = [{"objects": [red_cube]}, {"objects": [blue_ball]}, {"objects": [red_cube, blue_ball]}]
    captions = [OBJECT + "A red cube.", "A large blue rubber sphere.", OBJECT + "a blue ball"]
    fits = fitting(captions, encode_scenes(scenes))
    assert fits.tolist() == [
        [True, False, True],
        [False, True, False],  # a full caption keeps its own scene only
        [False, True, True],
    ]


def test_a_random_person_is_reproducible_and_trainable() -> None:
    assert random_person(3) == random_person(3) != random_person(4)
    assert style(RANDOM, 3) == random_person(3)
    assert training_styles(("default", RANDOM)) == ("default", RANDOM)
    people = [random_person(s) for s in range(200)]
    assert min(p.aspect[0] for p in people) >= 0.75 and max(p.wobble for p in people) <= 0.02


def test_the_schedule_warms_up_then_decays_to_zero() -> None:
    recipe = TrainRecipe(steps=100, warmup=10, lr=1e-3)
    assert lr_at(0, recipe) < lr_at(9, recipe) == recipe.lr
    assert lr_at(55, recipe) < recipe.lr and lr_at(100, recipe) == 0.0


def test_a_shifted_map_keeps_its_values() -> None:
    ids = torch.randint(0, 7, (4, 1, 64, 64)).float()
    moved = shifted(ids)
    assert moved.shape == ids.shape and set(moved.unique().tolist()) <= set(range(7))


def test_a_warped_drawing_moves_its_parts_apart_and_keeps_its_values() -> None:
    page = torch.zeros(64, 1, 64, 64)
    page[:, :, 8:16, 8:16] = 1  # one object top left
    page[:, :, 48:56, 48:56] = 1  # one bottom right
    torch.manual_seed(0)
    bent = warped(page, 0.06)
    assert set(bent.unique().tolist()) <= {0.0, 1.0}

    def centre(x: torch.Tensor) -> torch.Tensor:
        rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
        mass = x.sum((-1, -2)).clamp(min=1)
        return torch.stack([(x * rows).sum((-1, -2)) / mass, (x * cols).sum((-1, -2)) / mass])

    corners = ((0, 32), (32, 64))
    moves = [centre(bent[:, 0, a:b, a:b]) - centre(page[:, 0, a:b, a:b]) for a, b in corners]
    assert all(m.abs().mean() > 0.5 for m in moves)  # both objects moved
    assert (moves[0] - moves[1]).abs().mean() > 0.5  # and not together


def test_query_weights_set_each_pixel_query_s_share_of_rows() -> None:
    queries = ("depth", "normal", "semseg", "sketch", "edges")
    recipe = TrainRecipe(query_weights={"sketch": 3.0, "edges": 0.0})
    batcher = Batcher(data=None, vocab=None, recipe=recipe, queries=queries)  # type: ignore[arg-type]
    torch.manual_seed(0)
    counts = torch.bincount(batcher.query_kinds(70_000), minlength=len(queries)) / 70_000
    assert counts[queries.index("edges")] == 0.0  # weight 0: never drawn
    assert abs(counts[queries.index("sketch")] - 3 / 6) < 0.01  # 3 of 1 + 1 + 1 + 3 + 0
    assert abs(counts[queries.index("depth")] - 1 / 6) < 0.01  # unnamed: weight 1


def test_query_weights_of_unknown_modalities_or_below_zero_are_refused(tmp_path: Path) -> None:
    for weights, said in (
        ({"skech": 2.0}, "unknown modalities ['skech']"),
        ({"depth": -1}, "0 or more"),
        ({q: 0 for q in ("depth", "normal", "semseg", "sketch", "edges")}, "every pixel query"),
    ):
        recipe = tmp_path / "r.json"
        recipe.write_text(json.dumps({"name": "r", "train": {"query_weights": weights}}))
        with pytest.raises(ValueError, match=re.escape(said)):
            load_recipe(str(recipe))


def test_input_settings_a_transform_does_not_take_are_refused_by_name(tmp_path: Path) -> None:
    for settings, said in (
        ({"sketch": {"contentbox": True}}, "contentbox"),
        ({"paint": {"content_box": True}}, "unknown inputs ['paint']"),
        ({"sketch": {"box_margin": 3}}, "box_margin must be a number in [0, 1]"),
        ({"sketch": True}, "expected {input: {setting: value}}"),
    ):
        recipe = tmp_path / "r.json"
        recipe.write_text(json.dumps({"name": "r", "data": {"input_settings": settings}}))
        with pytest.raises(ValueError, match=re.escape(said)):
            load_recipe(str(recipe))
    boxed = {"sketch": {"content_box": True, "box_margin": 0.06}}
    recipe.write_text(json.dumps({"name": "r", "data": {"input_settings": boxed}}))
    assert load_recipe(str(recipe)).data.input_settings == boxed


def test_a_drawing_read_from_its_content_box_is_never_shifted_on_the_fly(
    tiny_training: tuple,
) -> None:
    from anyseek.scenes.tensors import PIXEL_INPUTS

    data, _, vocab = tiny_training
    recipe = TrainRecipe(p_shift=1.0, p_drawn=0.0)  # the generator's sketches, always shifted
    index = torch.arange(16)
    as_rendered = PIXEL_INPUTS["sketch"](data.scenes, index)
    boxed = Batcher(data, vocab, recipe, ("sketch",), random.Random(0), boxed=("sketch",))
    assert torch.equal(boxed.pixel_rows("sketch", index), as_rendered)
    page = Batcher(data, vocab, recipe, ("sketch",), random.Random(0))
    assert not torch.equal(page.pixel_rows("sketch", index), as_rendered)


def test_presence_labels_say_which_scenes_have_what_a_caption_states() -> None:
    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    blue_ball = {"shape": "sphere", "color": "blue", "size": "large", "material": "matte"}
    objects = encode_scenes(
        [{"objects": [red_cube]}, {"objects": [blue_ball]}, {"objects": [red_cube, blue_ball]}]
    )
    captions = [
        "A red cube.",  # one object, any size or material
        "a teal orb",  # a person's words: a cyan sphere, which no scene has
        "a red block next to a big ball",  # some objects, synonyms
        "a large red cube",  # every red cube here is small
        "an empty room",  # states no object: fits every scene, and is not trusted
    ]
    labels = fits(captions, objects)
    assert labels.tolist() == [
        [True, False, True],
        [False, False, False],
        [False, False, True],
        [False, False, False],
        [True, True, True],
    ]
    own = fits(["a small red metal cube", "a ball", "a crimson box"], objects)
    assert trusted_rows(["a small red metal cube", "a ball", "a crimson box"], own).tolist() == [
        True,  # scene 0's own caption, and scene 0 fits it
        True,
        True,  # crimson is red, box is cube: scene 2 has a red cube
    ]
    assert not trusted_rows(["an empty room"], torch.ones(1, 1, dtype=torch.bool)).any()


def test_the_presence_loss_rewards_scores_that_follow_the_labels() -> None:
    texts, images = F.normalize(torch.randn(4, 8), dim=1), F.normalize(torch.randn(5, 8), dim=1)
    labels = (texts @ images.t()) > 0
    scale, bias = torch.tensor(10.0), torch.tensor(0.0)
    agreeing = presence_loss(texts, images, labels, scale, bias)
    assert agreeing < presence_loss(texts, images, ~labels, scale, bias)


def test_a_presence_batch_carries_labels_of_its_own_scenes() -> None:
    from anyseek.workbench.cache import ChunkJob, render_chunk

    data = render_chunk(ChunkJob(5, 0, 24, 64, ("default",)))
    vocab = WordVocab.build([c for p in data.scenes.captions for c in p], 128)
    recipe = TrainRecipe(presence_weight=1.0, p_object_caption=0.5)
    batcher = Batcher(data, vocab, recipe, ("sketch", "semseg"), random.Random(0))
    batch = batcher.batch(16)
    labels, trusted = batch["presence"]
    assert labels.shape == (16, 16) and trusted.shape == (16,)
    assert labels.diagonal()[trusted].all() and trusted.sum() >= 12
    assert labels.sum() > labels.diagonal().sum()  # some one-object caption fits another scene


def test_a_training_step_with_the_presence_loss_moves_its_scale_and_bias(
    tiny_training: tuple,
) -> None:
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import new_state, train_step

    data, config, vocab = tiny_training
    recipe = TrainRecipe(presence_weight=0.1, p_object_caption=0.5, bf16=False, warmup=1)
    model = BuiltinModel(config)
    state = new_state(model, recipe)
    before = state.presence.detach().clone()
    batcher = Batcher(data, vocab, recipe, ("sketch", "semseg"), random.Random(0))
    losses = train_step(state, batcher.batch(16), recipe)
    assert losses["presence"] > 0 and set(losses) == {"pixel", "text", "presence"}
    assert not torch.equal(state.presence.detach(), before)  # its scale and bias learn
    off = TrainRecipe(bf16=False)
    plain = Batcher(data, vocab, off, ("sketch", "semseg"), random.Random(0)).batch(16)
    assert plain["presence"] is None and "presence" not in train_step(state, plain, off)


def test_attribute_labels_are_each_objects_conjunctions() -> None:
    from anyseek.scenes.scene import COLORS, SHAPES
    from anyseek.workbench.attributes import conjunction_labels, label_count, label_of

    red_cube = {"shape": "cube", "color": "red", "size": "small", "material": "metal"}
    black_torus = {"shape": "torus", "color": "black", "size": "large", "material": "matte"}
    scenes = [{"objects": [red_cube, black_torus]}, {"objects": [red_cube]}]
    labels = conjunction_labels(encode_scenes(scenes))  # scene 1 is padded to two objects
    assert labels.shape == (2, label_count())
    assert labels.sum(1).tolist() == [8.0, 4.0]  # four conjunctions per object, padding none
    colors = list(COLORS)
    red_cube_pair = SHAPES.index("cube") * len(colors) + colors.index("red")
    black_torus_pair = SHAPES.index("torus") * len(colors) + colors.index("black")
    assert labels[:, red_cube_pair].tolist() == [1.0, 1.0]
    assert labels[:, black_torus_pair].tolist() == [1.0, 0.0]
    red_torus_pair = SHAPES.index("torus") * len(colors) + colors.index("red")
    assert labels[:, red_torus_pair].tolist() == [0.0, 0.0]  # red and a torus, not a red torus
    assert label_of({"shape": "cube", "color": "red"}) == red_cube_pair
    small, metal = {"size": "small"}, {"material": "metal"}
    for stated in (small, metal, small | metal):
        label = label_of({"shape": "cube", "color": "red", **stated})
        assert label is not None and label != red_cube_pair and labels[1, label] == 1.0
    assert label_of({"shape": "cube"}) is None  # not a conjunction the head predicts
    assert label_of({"shape": "cube", "color": "mauve"}) is None  # not a colour of the scenes


def test_the_attribute_loss_rewards_logits_that_follow_the_labels() -> None:
    from anyseek.workbench.attributes import attribute_loss

    labels = (torch.rand(4, 540) < 0.05).float()
    assert attribute_loss(8 * labels - 4, labels) < attribute_loss(4 - 8 * labels, labels)


@pytest.mark.parametrize(
    ("weight", "head", "labels"),
    [
        ("attribute_weight", "attributes", (16, 540)),  # workbench.attributes: the image vector
        ("cell_weight", "cells", (16, 540, 16)),  # workbench.cells: each cell of the image grid
    ],
)
def test_a_training_step_with_an_auxiliary_head_trains_it_and_a_checkpoint_keeps_it(
    tmp_path: Path, tiny_training: tuple, weight: str, head: str, labels: tuple[int, ...]
) -> None:
    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.train import load_checkpoint, new_state, save_checkpoint, train_step

    def params(state: object) -> torch.Tensor:
        return next(getattr(state, head).parameters())

    data, config, vocab = tiny_training
    recipe = TrainRecipe(**{weight: 1.0}, bf16=False, warmup=1)
    state = new_state(BuiltinModel(config), recipe)
    assert getattr(state, head) is not None
    before = params(state).detach().clone()
    rng = random.Random(0)
    batch = Batcher(data, vocab, recipe, ("sketch", "semseg"), rng).batch(16)
    assert batch[head].shape == labels and batch[head].sum() > 0 and batch["presence"] is None
    losses = train_step(state, batch, recipe)
    assert losses[head] > 0 and set(losses) == {"pixel", "text", head}
    assert not torch.equal(params(state).detach(), before)  # the head learns
    save_checkpoint(state, tmp_path / "ckpt.pt", rng)
    restored = load_checkpoint(new_state(BuiltinModel(config), recipe), tmp_path / "ckpt.pt", rng)
    assert torch.equal(params(restored), params(state))
    off = TrainRecipe(bf16=False)
    assert getattr(new_state(BuiltinModel(config), off), head) is None  # off: no head, none saved
    plain = Batcher(data, vocab, off, ("sketch", "semseg"), random.Random(0)).batch(16)
    assert plain[head] is None and head not in train_step(state, plain, off)


def test_bf16_autocast_is_used_only_where_the_cpu_has_it(tmp_path: Path) -> None:
    from anyseek.workbench.train import native_bf16

    avx2 = tmp_path / "avx2"
    avx2.write_text("flags\t\t: fpu sse sse2 avx avx2 fma\n" * 2)
    bf16 = tmp_path / "bf16"
    bf16.write_text("flags\t\t: fpu avx2 avx512f avx512_vnni avx512_bf16\n")
    assert not native_bf16(avx2) and native_bf16(bf16)


def test_the_attention_kernels_train_alike_and_math_leaves_the_fused_kernel_out(
    tiny_training: tuple,
) -> None:
    import copy

    from torch.profiler import profile

    from anyseek.model.builtin.network import BuiltinModel
    from anyseek.workbench.recipe import ATTENTION_KERNELS
    from anyseek.workbench.train import ATTENTION, new_state, train_step

    assert set(ATTENTION) == set(ATTENTION_KERNELS)
    data, config, vocab = tiny_training
    torch.manual_seed(0)
    start = new_state(BuiltinModel(config), TrainRecipe(bf16=False))
    batch = Batcher(data, vocab, TrainRecipe(), ("sketch", "semseg"), random.Random(0)).batch(16)
    weights, ops = {}, {}
    for kernel in ATTENTION_KERNELS:
        state, recipe = copy.deepcopy(start), TrainRecipe(bf16=False, warmup=1, attention=kernel)
        with profile() as run:
            train_step(state, batch, recipe)
        ops[kernel] = {e.key for e in run.key_averages()}
        weights[kernel] = state.model.text.head.weight.detach()
    assert any("flash_attention" in op for op in ops["auto"])  # torch fuses it on a CPU
    assert not any("flash_attention" in op for op in ops["math"])  # plain matmuls only
    assert torch.allclose(weights["math"], weights["auto"], atol=1e-5)  # the same step


def test_an_attention_kernel_not_known_is_refused_by_name(tmp_path: Path) -> None:
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"name": "r", "train": {"attention": "flash"}}))
    with pytest.raises(ValueError, match=re.escape("'flash' is not one of ['math', 'auto']")):
        load_recipe(str(recipe))
