"""Train a WordPiece caption tokenizer with the special-token conventions of the official 4M one.

The official file (``text_tokenizer_4m_wordpiece_30k.json``) is a ``tokenizers`` JSON with a
BertNormalizer (lowercase), BertPreTokenizer, WordPiece with ``##`` continuation, no post-processor
(``encode`` adds no special tokens) and the ids ``[PAD]``=0, ``[UNK]``=1, ``[SOS]``=2, ``[EOS]``=3,
then the sentinels ``[S_0]``, ``[S_1]``, ... upwards. The trained file follows the same layout,
so the same loader and caption conventions (ids + ``[EOS]``, right padding with ``[PAD]``) apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from anyseek.errors import AnyseekError

PAD, UNK, SOS, EOS = "[PAD]", "[UNK]", "[SOS]", "[EOS]"
NUM_SENTINELS = 200  # the official file has [S_0] .. [S_199]


def special_tokens(num_sentinels: int = NUM_SENTINELS) -> list[str]:
    """The special tokens in id order: PAD, UNK, SOS, EOS, then the span sentinels."""
    return [PAD, UNK, SOS, EOS, *(f"[S_{i}]" for i in range(num_sentinels))]


def train_wordpiece(
    texts: Iterable[str], *, vocab_size: int = 2000, num_sentinels: int = NUM_SENTINELS
) -> Tokenizer:
    """Train a WordPiece tokenizer on ``texts``; special ids match the official tokenizer."""
    specials = special_tokens(num_sentinels)
    if vocab_size <= len(specials):
        raise AnyseekError(
            f"vocab_size {vocab_size} must exceed the {len(specials)} special tokens"
        )
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK, continuing_subword_prefix="##"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=specials,
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def save_wordpiece(tokenizer: Tokenizer, path: Path) -> Path:
    """Write the tokenizer JSON (the format the official loader reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path
