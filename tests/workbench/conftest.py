"""Shared pieces of the workbench tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture
def tiny_training() -> tuple:
    """16 rendered scenes, the tiny model's config and a vocabulary of their captions."""
    from anyseek.model.builtin.network import BuiltinConfig
    from anyseek.model.builtin.text import WordVocab
    from anyseek.workbench.cache import ChunkJob, render_chunk

    torch.manual_seed(0)
    data = render_chunk(ChunkJob(6, 0, 16, 64, ("default",)))
    config = BuiltinConfig.load(Path("tiny"))
    vocab = WordVocab.build(
        [c for p in data.scenes.captions for c in p], config.text_vocab,
        buckets=config.text_buckets, trigrams_per_word=config.trigrams_per_word,
    )  # fmt: skip
    return data, config, vocab
