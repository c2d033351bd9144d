"""The 4M WordPiece tokenizer: identical ids to the official one and the caption layouts of 4M."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from anyseek.model import TokenizerError, load_text_tokenizer
from anyseek.model.fourm.tokenizers import TokenizerInputError
from anyseek.model.fourm.tokenizers.text import DEFAULT_WORDPIECE

OFFICIAL_BYTES = 1_451_469  # size and digest of the official WordPiece file (apple/ml-4m)
OFFICIAL_SHA256 = "8e684e9a0673e39f70702a698869f909ba697f871a0c6b2a07b5f61e91b3526e"


@pytest.fixture(scope="module")
def text_index(fourm_fixtures: Path) -> dict:
    """The ``text`` section of the fixture index: captions, probes and special ids."""
    return json.loads((fourm_fixtures / "index.json").read_text())["text"]


@pytest.fixture(scope="module")
def tok():
    """The tokenizer loaded from the copy shipped inside the package."""
    return load_text_tokenizer()


def test_shipped_wordpiece_file_is_the_official_one():
    # the reference's fourm/utils/tokenizer/trained/text_tokenizer_4m_wordpiece_30k.json
    data = DEFAULT_WORDPIECE.read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (OFFICIAL_BYTES, OFFICIAL_SHA256)


def test_every_probe_string_gets_the_official_ids(tok, text_index):
    cases = text_index["captions"] + text_index["probes"]
    assert len(cases) == 6
    for case in cases:
        assert tok.encode(case["text"]) == case["ids"], case["text"]
        assert tok.tokens(case["text"]) == case["tokens"], case["text"]


def test_explicit_path_gives_the_same_ids(fourm_fixtures, text_index):
    from_fixture = load_text_tokenizer(fourm_fixtures / "text_tokenizer_4m_wordpiece_30k.json")
    probe = text_index["probes"][0]
    assert from_fixture.encode(probe["text"]) == probe["ids"]


def test_special_ids(tok, text_index):
    special = text_index["special_ids"]
    assert (tok.pad_id, tok.unk_id, tok.sos_id, tok.eos_id) == (
        special["[PAD]"],
        special["[UNK]"],
        special["[SOS]"],
        special["[EOS]"],
    )
    assert [tok.sentinel_id(n) for n in range(3)] == [special[f"[S_{n}]"] for n in range(3)]
    assert tok.vocab_size == 30000


def test_caption_batch_matches_the_fm_caption_input(tok, text_index, fourm_fixtures):
    inputs = load_file(fourm_fixtures / "inputs.safetensors")
    texts = [c["text"] for c in text_index["captions"]]
    batch = tok.caption_batch(texts, length=text_index["full_input_pad_to"])
    assert torch.equal(batch.ids, inputs["fm_input.caption.tensor"])
    assert torch.equal(batch.input_mask, inputs["fm_input.caption.input_mask"])
    assert torch.equal(batch.target_mask, inputs["fm_input.caption.target_mask"])


def test_completion_batch_matches_the_custom_text_input(tok, text_index, fourm_fixtures):
    inputs = load_file(fourm_fixtures / "inputs.safetensors")
    batch = tok.completion_batch(
        text_index["custom_text_input_texts"],
        target_length=text_index["custom_text_target_max_len"],
    )
    for field in ("ids", "input_mask", "target_mask"):
        key = "tensor" if field == "ids" else field
        assert torch.equal(getattr(batch, field), inputs[f"custom_text.caption.{key}"]), field


def test_generation_target_layout(tok):
    target = tok.generation_target(batch_size=2, length=6)
    assert target.ids.tolist() == [[5, 5, 0, 0, 0, 6]] * 2
    assert target.input_mask.tolist() == [[False, True, True, True, True, True]] * 2
    assert torch.equal(target.target_mask, ~target.input_mask)


def test_decode_drops_control_tokens_but_keeps_class_words(tok):
    ids = tok.caption_batch(["a red bus [S_1] on a road"], length=12).ids[0]
    assert tok.decode(ids) == "a red bus on a road"
    assert (
        tok.decode(ids, skip_special_tokens=False)
        == "a red bus [S_1] on a road [EOS]" + 4 * " [PAD]"
    )


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_caption_is_refused(tok, text):
    with pytest.raises(TokenizerInputError, match="empty"):
        tok.caption_ids(text)


def test_too_long_caption_is_refused(tok):
    with pytest.raises(TokenizerInputError, match="at most 256"):
        tok.caption_ids("word " * 300)


def test_pad_length_shorter_than_captions_is_refused(tok):
    with pytest.raises(TokenizerInputError, match="need 8 positions"):
        tok.caption_batch(["Two dogs playing in the snow!"], length=4)


def test_missing_or_foreign_tokenizer_files_are_refused(tmp_path):
    with pytest.raises(TokenizerError, match="not found"):
        load_text_tokenizer(tmp_path / "absent.json")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(TokenizerError, match="not a readable"):
        load_text_tokenizer(garbage)
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    foreign = tmp_path / "foreign.json"
    Tokenizer(WordLevel({"[UNK]": 0, "[PAD]": 1}, unk_token="[UNK]")).save(str(foreign))
    with pytest.raises(TokenizerError, match="special token ids differ"):
        load_text_tokenizer(foreign)
