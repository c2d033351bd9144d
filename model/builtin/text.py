"""Captions as the built-in model reads them: words, each an id and its hashed letter trigrams.

The scene world speaks a small closed vocabulary, so a word-level tokenizer fits it: every word
of the training captions gets an id. People's synonyms first become the scene's words
(``anyseek.model.vocabulary.synonyms``). People misspell, so each word also carries the ids of its
letter trigrams hashed into a fixed number of buckets (fastText's trick): "cyllinder" shares most of
its trigrams with "cylinder", so a word one edit from a known word (or from a word of the synonym
table) is still read by its spelling (training shows the model misspelt words read that way). A
word far from every known word ("burgundy", "please") is left out: its trigrams are noise the
model never trained on, and reading them drowned the words it knows: captions in people's
everyday words found their scene far less often (``lab/results/people_words_unreadable.md``).
Such words are reported, with the known word one edit away when there is one, unless they are
function words ("near", "its"), which only glue the content words together.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from anyseek.model.vocabulary.function_words import is_function_word
from anyseek.model.vocabulary.synonyms import SYNONYMS, canonical_caption

PAD, UNKNOWN = 0, 1
_WORD = re.compile(r"[a-z]+")


def words_of(caption: str) -> list[str]:
    """Lower-case words of a caption after people's synonyms became the scene's words."""
    return _WORD.findall(canonical_caption(caption).lower())


def trigrams(word: str) -> list[str]:
    """Letter trigrams of ``<word>`` (with boundary marks), e.g. cube -> <cu cub ube be>."""
    marked = f"<{word}>"
    return [marked[i : i + 3] for i in range(len(marked) - 2)]


LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: the synonym table's one-word entries: a person's misspelt "tael" is one edit from "teal"
SYNONYM_WORDS: frozenset[str] = frozenset(w for w in SYNONYMS if " " not in w)


def one_edit(word: str) -> set[str]:
    """Every string one edit from ``word``: a letter dropped, two swapped, one changed or added."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    dropped = {a + b[1:] for a, b in splits if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    changed = {a + c + b[1:] for a, b in splits if b for c in LETTERS}
    added = {a + c + b for a, b in splits for c in LETTERS}
    return (dropped | swapped | changed | added) - {word}


def bucket(gram: str, buckets: int) -> int:
    """A trigram's hashed id in 1..buckets-1 (0 is padding); stable across processes."""
    return 1 + zlib.crc32(gram.encode()) % (buckets - 1)


@functools.lru_cache(maxsize=1 << 16)
def word_grams(word: str, buckets: int, per_word: int) -> tuple[int, ...]:
    """A word's first ``per_word`` trigram ids, 0-padded to ``per_word``: hashed once per word
    (training encodes every caption of every batch, from a few thousand distinct words)."""
    grams = [bucket(g, buckets) for g in trigrams(word)][:per_word]
    return (*grams, *[0] * (per_word - len(grams)))


@dataclass(frozen=True)
class WordVocab:
    """The words a built-in model knows by id, and how its captions become id tensors."""

    words: tuple[str, ...]  # id 2.. in this order (0 pad, 1 unknown)
    buckets: int = 2048
    trigrams_per_word: int = 12
    max_words: int = 32

    @classmethod
    def build(cls, captions: Iterable[str], size: int, **sizes: int) -> WordVocab:
        """The ``size - 2`` most frequent words of ``captions`` (ties by first appearance)."""
        counts: dict[str, int] = {}
        for caption in captions:
            for word in words_of(caption):
                counts[word] = counts.get(word, 0) + 1
        ranked = sorted(counts, key=lambda w: -counts[w])[: size - 2]
        return cls(tuple(ranked), **sizes)

    @functools.cached_property
    def ids(self) -> dict[str, int]:
        """Word -> id, kept on the vocabulary: looking it up by the word tuple hashed 500 words
        for each of a training batch's 700-odd captions."""
        return _ids(self.words)

    def near_known(self, word: str) -> str | None:
        """The known word one edit from ``word`` (three letters or more): the vocabulary's most
        frequent such word, else a word of the synonym table."""
        return _near_known(word, self.words)

    def read_words(self, caption: str) -> list[str]:
        """The words of ``caption`` the model reads: those it knows, and those one edit from a
        known word; any other word is left out."""
        ids = self.ids
        return [w for w in words_of(caption) if w in ids or self.near_known(w) is not None]

    def unknown_words(self, caption: str) -> list[str]:
        """Words of ``caption`` the vocabulary lacks (read by their spelling, or left out), once
        each."""
        ids = self.ids
        seen: list[str] = []
        for word in words_of(caption):
            if word not in ids and word not in seen:
                seen.append(word)
        return seen

    def warnings(self, caption: str) -> list[str]:
        """One line per content word the model does not know (function words such as "with" or
        "near" never: ``anyseek.model.vocabulary.function_words``); a misspelling names its
        look-alike."""
        out = []
        for word in self.unknown_words(caption):
            if is_function_word(word):
                continue
            near = self.near_known(word)
            shown = word[:40]
            out.append(f'unknown word "{shown}"' + (f' (read like "{near}")' if near else ""))
        return out

    def readable(self, caption: str) -> bool:
        """Whether the model reads any word of ``caption`` (a caption of strange words only
        tells the model nothing it can trust)."""
        return bool(self.read_words(caption))

    def word_rows(self, caption: str) -> list[tuple[int, ...]]:
        """One caption's L >= 1 rows, one per word it reads: the word id, then trigram ids."""
        ids, per_word = self.ids, self.trigrams_per_word
        words = self.read_words(caption)[: self.max_words] or ["."]
        return [(ids.get(w, UNKNOWN), *word_grams(w, self.buckets, per_word)) for w in words]

    def encode(self, caption: str) -> torch.Tensor:
        """One caption -> [L, 1 + T] int64 (L >= 1 words it reads; each row: word id, trigram
        ids)."""
        return torch.tensor(self.word_rows(caption), dtype=torch.long)

    def batch(self, captions: Sequence[str]) -> torch.Tensor:
        """Captions -> [B, L, 1 + T], padded with 0 rows to the longest.

        One array for the whole batch: a tensor per caption, padded and stacked, was a third of
        the time a training batch's 700-odd word rows took to make."""
        rows = [self.word_rows(c) for c in captions]
        width = 1 + self.trigrams_per_word
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        out = np.zeros((len(rows), int(lengths.max(initial=1)), width), dtype=np.int64)
        flat = itertools.chain.from_iterable(itertools.chain.from_iterable(rows))
        words = np.fromiter(flat, dtype=np.int64, count=int(lengths.sum()) * width)
        out[np.arange(out.shape[1]) < lengths[:, None]] = words.reshape(-1, width)
        return torch.from_numpy(out)

    def to_json(self) -> dict[str, object]:
        """The ``vocab.json`` contents."""
        return {
            "words": list(self.words),
            "buckets": self.buckets,
            "trigrams_per_word": self.trigrams_per_word,
            "max_words": self.max_words,
        }

    @classmethod
    def load(cls, path: Path) -> WordVocab:
        """Read a ``vocab.json``."""
        data = json.loads(Path(path).read_text())
        return cls(
            tuple(data["words"]),
            int(data["buckets"]),
            int(data["trigrams_per_word"]),
            int(data["max_words"]),
        )


@functools.lru_cache(maxsize=8)
def _ids(words: tuple[str, ...]) -> dict[str, int]:
    """Word -> id (0 pad, 1 unknown, then the words in order), built once per vocabulary."""
    return {w: i + 2 for i, w in enumerate(words)}


@functools.lru_cache(maxsize=1 << 14)
def _near_known(word: str, words: tuple[str, ...]) -> str | None:
    """:meth:`WordVocab.near_known`, once per word and vocabulary (training asks it of every
    misspelt word of every batch)."""
    if len(word) < 3:
        return None
    edits = one_edit(word)
    ids = _ids(words)
    near = [w for w in edits if w in ids]
    if near:
        return min(near, key=ids.__getitem__)
    return min(edits & SYNONYM_WORDS, default=None)


def stack_words(rows: Sequence[torch.Tensor]) -> torch.Tensor:
    """Encoded captions [L_i, W] -> [B, max L, W], padded with 0 rows."""
    length = max(r.shape[0] for r in rows)
    return torch.stack([torch.nn.functional.pad(r, (0, 0, 0, length - r.shape[0])) for r in rows])
