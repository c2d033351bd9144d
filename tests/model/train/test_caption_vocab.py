"""A model's own text vocabulary: the caption table sized to its WordPiece, not the registry's."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from model.bundle.loading import BundleError, load_bundle
from model.fourm.config import ConfigError, FourMConfig
from model.fourm.inputs import InputError
from model.fourm.loading import load_fourm, save_fourm
from model.fourm.modalities import EOS_ID, TEXT_VOCAB_SIZE
from model.fourm.network import FourM
from model.inference.predict import predict_logits
from model.inference.sampling import generate
from model.train.recipe import load_recipe
from model.train.text import save_wordpiece, train_wordpiece

OWN = 260  # a WordPiece just above the 204 special ids


def _caption_rows(fm: FourM) -> int:
    return fm.encoder_embeddings["caption"].token_emb.num_embeddings


def test_recipes_choose_the_caption_table_size() -> None:
    """The shipped gpu recipe still describes the committed model: the registry's 30,000 rows."""
    gpu, ci = load_recipe("gpu").fm, load_recipe("ci").fm
    assert (
        gpu.caption_vocab == "registry" and load_recipe("default").fm.caption_vocab == "tokenizer"
    )
    official = gpu.fourm_config(text_vocab=OWN)
    assert official.vocab_size("caption") == TEXT_VOCAB_SIZE
    assert "vocab_sizes" not in official.to_dict()  # official configs carry no such key
    own = ci.fourm_config(text_vocab=OWN)
    assert own.vocab_size("caption") == OWN and own.to_dict()["vocab_sizes"] == {"caption": OWN}
    assert _caption_rows(FourM(own)) == OWN
    with pytest.raises(ValueError, match="vocab size"):
        ci.fourm_config()
    with pytest.raises(ValueError, match="caption_vocab"):
        replace(ci, caption_vocab="tiny")


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"det": 300}, "not an input or output"),
        ({"rgb@64": 300}, "no token vocabulary"),
        ({"caption": 100}, "special ids"),
        ({"caption": "300"}, "positive integer"),
    ],
)
def test_impossible_vocabulary_overrides_are_refused(sizes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FourMConfig(
            ("rgb@64", "caption"),
            ("tok_clip_global",),
            dim=64,
            num_heads=2,
            **{"vocab_sizes": sizes},
        )


def _pipeline_run(tmp_path: Path, tiny_training_set):
    """A ci-recipe run with every input of the ``bundle`` stage in place (tiny, fast parts)."""
    from model.train.pipeline import Run, stage_bundle, stage_fm, stage_tokenizers

    ci = load_recipe("ci")
    config = replace(
        ci,
        fm=replace(ci.fm, steps=2, checkpoint_every=2, target_temperature=None),
        tokenizer=replace(ci.tokenizer, steps=2, batch_size=16, live_codes=8),
    )
    run = Run(config, tmp_path / "run")
    scenes = replace(tiny_training_set.scenes, captions=[("A red cube and a blue ball.",)] * 16)
    scenes.save(run.path("tensors", "train.pt"))
    text = train_wordpiece(["a red cube", "a blue ball", "a small green cone"], vocab_size=OWN)
    save_wordpiece(text, run.path("text_tokenizer.json"))
    record = {"metrics": {"vocab_size": text.get_vocab_size()}, "seconds": 0}
    run.path("stages", "text.json").write_text(json.dumps(record))
    g = torch.Generator().manual_seed(0)
    embeddings = {
        s: torch.randn(16, 8, generator=g) for s in ("tok_clip_global", "tok_dino_global")
    }
    torch.save(embeddings, run.path("teachers", "embeddings.pt"))
    stage_tokenizers(run)
    stage_fm(run)
    stage_bundle(run)
    return run, text.get_vocab_size()


def test_own_caption_vocab_round_trips_through_the_bundle_and_refuses_foreign_ids(
    tmp_path: Path, tiny_training_set
) -> None:
    run, vocab = _pipeline_run(tmp_path, tiny_training_set)
    assert 204 < vocab <= OWN
    shipped = json.loads((run.bundle_dir / "fm" / "config.json").read_text())
    assert shipped["vocab_sizes"] == {"caption": vocab}
    bundle = load_bundle(run.bundle_dir)
    assert _caption_rows(bundle.fm) == vocab
    trained = torch.load(run.out / "fm_final.pt")
    key = "encoder_embeddings.caption.token_emb.weight"
    assert torch.equal(bundle.fm.state_dict()[key], trained[key])
    ids = bundle.text.caption_batch(["a red cube"]).ids
    vectors = bundle.embed({"caption": ids})
    assert set(vectors) == {"tok_clip_global", "tok_dino_global"}
    foreign = ids.clone()
    foreign[0, 0] = vocab  # an id of a bigger (e.g. the official) vocabulary
    with pytest.raises(InputError, match=rf"caption: token ids must lie in \[0, {vocab}\).*text"):
        bundle.embed({"caption": foreign})
    # a text tokenizer bigger than the caption table is refused when the bundle loads
    words = [f"zq{i} kv{i * 7}" for i in range(300)]
    bigger = train_wordpiece(words, vocab_size=vocab + 40)
    assert bigger.get_vocab_size() > vocab
    save_wordpiece(bigger, run.bundle_dir / "text_tokenizer.json")
    with pytest.raises(BundleError, match=rf"{bigger.get_vocab_size()} ids.*{vocab} rows"):
        load_bundle(run.bundle_dir)


def test_own_vocab_survives_the_single_file_checkpoint_and_sizes_caption_generation(
    tmp_path: Path,
) -> None:
    """Metadata round trip (str(dict) -> YAML) and a caption output head of the model's size."""
    torch.manual_seed(0)
    config = FourMConfig(
        ("rgb@64", "caption"),
        ("caption", "tok_clip_global"),
        dim=32,
        encoder_depth=1,
        decoder_depth=1,
        num_heads=2,
        vocab_sizes={"caption": OWN},
    )
    model = FourM(config).eval()
    assert model.decoder_embedding("caption").to_logits.out_features == OWN
    loaded = load_fourm(save_fourm(model, tmp_path / "own.safetensors"))
    assert loaded.config == config and loaded.config.vocab_sizes == (("caption", OWN),)
    rgb = torch.randn(1, 3, 64, 64)
    out = generate(loaded, {"rgb@64": rgb}, ["caption"], seed=0)["caption"].tensor
    assert out.shape[0] == 1 and bool((out < OWN).all())  # sampled from the model's own head
    with pytest.raises(InputError, match="text vocabulary"):
        predict_logits(loaded, {"caption": torch.tensor([[OWN + 5, EOS_ID]])}, "tok_clip_global")


def test_a_run_from_before_the_setting_resumes_only_if_it_trained_the_same_way() -> None:
    """Runs started before ``fm.caption_vocab`` existed trained the registry's table."""
    from dataclasses import asdict

    from model.train.pipeline import PipelineConfig, same_config

    default = json.loads(json.dumps(asdict(PipelineConfig())))

    def plain(name: str) -> dict:
        return json.loads(json.dumps(asdict(load_recipe(name))))

    for name, resumes in (("gpu", True), ("default", False)):
        older = plain(name)
        del older["fm"]["caption_vocab"]
        assert same_config(older, plain(name), default) is resumes
    assert same_config(plain("ci"), plain("ci"), default)
    assert not same_config({**plain("ci"), "extra": 1}, plain("ci"), default)
    changed = plain("ci")
    changed["fm"]["dim"] += 1
    assert not same_config(changed, plain("ci"), default)
