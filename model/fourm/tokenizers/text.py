"""The 4M WordPiece text tokenizer and the official caption conventions (``tokenizers`` library).

The official file (a copy ships in ``assets/``, from the Apache-2.0 ``apple/ml-4m`` repository)
lower-cases, strips accents, splits BERT-style and has no post-processor: ``encode`` adds no
special tokens. Conventions the 4M models were trained with:

* special ids ``[PAD]=0``, ``[UNK]=1``, ``[SOS]=2``, ``[EOS]=3``, sentinels ``[S_n]=4+n``;
* a caption given to the model is its ids followed by ``[EOS]``, right-padded with ``[PAD]``;
  ``input_mask`` is True where a position is hidden from the encoder (the padding);
* a caption to complete ("custom text") is the text ids, then a target span
  ``[S_1] [PAD]... [EOS]`` hidden from the encoder, in which the model fills in text;
* an empty caption target for generation is ``[S_1] [S_1] [PAD]... [S_2]`` with only
  position 0 visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer

from anyseek.model.fourm.tokenizers.errors import TokenizerError, TokenizerInputError

DEFAULT_WORDPIECE = Path(__file__).parent / "assets" / "text_tokenizer_4m_wordpiece_30k.json"
SPECIAL_IDS = {"[PAD]": 0, "[UNK]": 1, "[SOS]": 2, "[EOS]": 3, "[S_0]": 4}
MAX_CAPTION_TOKENS = 256  # the caption embedding's max_length in the 4M models


@dataclass(frozen=True)
class CaptionBatch:
    """Padded caption ids with the 4M masks (True in ``input_mask`` = hidden from the encoder)."""

    ids: torch.Tensor  # [B, L] int64
    input_mask: torch.Tensor  # [B, L] bool
    target_mask: torch.Tensor  # [B, L] bool, False = position the decoder predicts


class TextTokenizer:
    """WordPiece tokenizer with the 4M special tokens and caption layouts."""

    def __init__(self, tokenizer: Tokenizer, source: str = "<memory>") -> None:
        self._tok = tokenizer
        self.source = source
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        wrong = {t: vocab.get(t) for t, i in SPECIAL_IDS.items() if vocab.get(t) != i}
        if wrong:
            raise TokenizerError(
                f"{source}: not a 4M text tokenizer, special token ids differ from the official "
                f"ones {SPECIAL_IDS}: {wrong}"
            )
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        self._vocab = vocab
        # Control tokens dropped by decode. Not every "special" token of the file: COCO class
        # names such as "bus" are registered as added tokens too and are real words.
        self._control_ids = frozenset(
            i
            for t, i in vocab.items()
            if (t in SPECIAL_IDS and t != "[UNK]") or t.startswith("[S_")
        )

    pad_id, unk_id, sos_id, eos_id = 0, 1, 2, 3

    def sentinel_id(self, n: int) -> int:
        """Id of the sentinel token ``[S_n]``."""
        token_id = self._tok.token_to_id(f"[S_{n}]")
        if token_id is None:
            raise TokenizerError(f"{self.source}: no sentinel token [S_{n}]")
        return token_id

    def encode(self, text: str) -> list[int]:
        """WordPiece ids of ``text`` without any special token added."""
        if not isinstance(text, str):
            raise TokenizerInputError(f"expected text, got {type(text).__name__}")
        return self._tok.encode(text).ids

    def tokens(self, text: str) -> list[str]:
        """WordPiece strings of ``text`` (for inspection)."""
        return self._tok.encode(text).tokens

    def decode(self, ids: list[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        """Text for ids; control tokens (padding, EOS, sentinels) are dropped by default."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        if skip_special_tokens:
            ids = [i for i in ids if i not in self._control_ids]
        return self._tok.decode(ids, skip_special_tokens=False)

    def words(self, text: str) -> list[str]:
        """The words of ``text`` as the tokenizer splits them (normalised: lower case)."""
        normalizer, pre_tokenizer = self._tok.normalizer, self._tok.pre_tokenizer
        normal = normalizer.normalize_str(text) if normalizer is not None else text
        if pre_tokenizer is None:
            return normal.split()
        return [word for word, _ in pre_tokenizer.pre_tokenize_str(normal)]

    def reads(self, word: str, closed: bool = False) -> bool:
        """Whether the model can read ``word``: it does not become ``[UNK]`` and, with ``closed``
        (a WordPiece trained on a closed caption vocabulary, like the built-in model's), the
        vocabulary holds it whole: its letter pieces were never seen as that word."""
        if word in self._vocab:
            return True
        return not closed and self.unk_id not in self._tok.encode(word).ids

    def unknown_words(self, text: str, closed: bool = False) -> list[str]:
        """Words of ``text`` the model cannot read (see :meth:`reads`), each once, in order.
        Punctuation is not a word and is never reported."""
        unknown: list[str] = []
        for word in self.words(text):
            if word in unknown or not any(c.isalnum() for c in word):
                continue
            if not self.reads(word, closed):
                unknown.append(word)
        return unknown

    def known_text(self, text: str, closed: bool = False) -> str:
        """``text`` without the words the model cannot read (their pieces would only be noise)."""
        return " ".join(word for word in self.words(text) if self.reads(word, closed))

    def caption_ids(self, text: str) -> list[int]:
        """A caption as the model reads it: text ids followed by ``[EOS]``."""
        ids = self.encode(text)
        if not ids:
            raise TokenizerInputError("caption is empty")
        if len(ids) + 1 > MAX_CAPTION_TOKENS:
            raise TokenizerInputError(
                f"caption is {len(ids) + 1} tokens long with [EOS]; the model reads at most "
                f"{MAX_CAPTION_TOKENS}"
            )
        return [*ids, self.eos_id]

    def caption_batch(self, texts: list[str], length: int | None = None) -> CaptionBatch:
        """Fully visible captions ``ids + [EOS]``, right-padded with ``[PAD]`` to one length."""
        rows = [self.caption_ids(t) for t in _as_list(texts)]
        visible = [len(r) for r in rows]
        return self._pad(rows, visible, [None] * len(rows), length)

    def completion_batch(
        self, texts: list[str], target_length: int = 50, length: int | None = None
    ) -> CaptionBatch:
        """Captions to complete: text ids, then a hidden ``[S_1] [PAD]... [EOS]`` span.

        Put ``[S_1]`` inside a text where the completion belongs (``"a photo of [S_1]"``).
        """
        if target_length < 2:
            raise TokenizerInputError("the completion span needs at least 2 tokens")
        s1 = self.sentinel_id(1)
        span = [s1] + [self.pad_id] * (target_length - 2) + [self.eos_id]
        prompts = [self.encode(t) for t in _as_list(texts)]
        rows = [[*p, *span] for p in prompts]
        too_long = [len(r) for r in rows if len(r) > MAX_CAPTION_TOKENS]
        if too_long:
            raise TokenizerInputError(
                f"prompt plus completion span is {max(too_long)} tokens; at most "
                f"{MAX_CAPTION_TOKENS}"
            )
        return self._pad(rows, [len(p) for p in prompts], [len(p) for p in prompts], length)

    def generation_target(self, batch_size: int, length: int) -> CaptionBatch:
        """An empty caption to generate: ``[S_1] [S_1] [PAD]... [S_2]``, only position 0 visible."""
        if length < 3:
            raise TokenizerInputError("a caption target needs at least 3 positions")
        row = [self.sentinel_id(1), self.sentinel_id(1)] + [self.pad_id] * (length - 3)
        row.append(self.sentinel_id(2))
        ids = torch.tensor([row] * batch_size, dtype=torch.long)
        input_mask = torch.ones_like(ids, dtype=torch.bool)
        input_mask[:, 0] = False
        return CaptionBatch(ids=ids, input_mask=input_mask, target_mask=~input_mask)

    def _pad(
        self,
        rows: list[list[int]],
        visible: list[int],
        target_from: list[int | None],
        length: int | None,
    ) -> CaptionBatch:
        """Right-pad rows; positions >= visible are hidden, targets span [target_from, len(row))."""
        width = max(len(r) for r in rows)
        length = width if length is None else length
        if length < width:
            raise TokenizerInputError(f"captions need {width} positions, asked for {length}")
        ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        input_mask = torch.ones(len(rows), length, dtype=torch.bool)
        target_mask = torch.ones(len(rows), length, dtype=torch.bool)
        for i, (row, n_visible, start) in enumerate(zip(rows, visible, target_from, strict=True)):
            ids[i, : len(row)] = torch.tensor(row)
            input_mask[i, :n_visible] = False
            if start is not None:  # a completion: the span after the prompt is predicted
                target_mask[i, start : len(row)] = False
        return CaptionBatch(ids=ids, input_mask=input_mask, target_mask=target_mask)


def _as_list(texts: list[str] | str) -> list[str]:
    """Accept one string or a non-empty list of strings."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise TokenizerInputError("no captions given")
    return texts


def load_text_tokenizer(path: str | Path | None = None) -> TextTokenizer:
    """Load the 4M WordPiece tokenizer (default: the official file shipped with anyseek)."""
    path = Path(path).expanduser() if path is not None else DEFAULT_WORDPIECE
    if not path.is_file():
        raise TokenizerError(f"text tokenizer file not found: {path}")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the library raises a bare Exception for malformed files
        raise TokenizerError(f"{path}: not a readable tokenizers JSON file ({exc})") from None
    return TextTokenizer(tokenizer, source=str(path))
