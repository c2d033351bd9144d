"""A caption cut to its colours (colour rows, extra caption rows) or to its shapes (shape pairs).

Asked in everyday words ("a tomato red lump beside a jade tyre"), search reads the colours and
little else (``anyseek.model.builtin.text`` leaves out what it cannot read): what reaches the
model is a caption of colours. v10 finds a scene from its colours alone less often than v9 did,
and from its shapes alone more often (``lab/results/people_words_parts.md``), as its pairs of
captions with maps (``anyseek.workbench.cross``), which show shapes and no colour, would do. A
colour row is the scene's short caption with every shape, size and material word left out
("a red, a blue and a green"), shown beside the scene's caption (not in its place) and picking
its image among the batch's, so the text tower keeps reading colours while the cross pairs teach
it shapes. It is built from the generator's own
words only: the everyday words stay the evaluation's (``lab/people_words.py``).

Shape pairs (``train.shape_pairs``) are the other side: in the caption's pairs with maps, a share
of rows show the caption with its colour and material words left out (``shape_caption``), what a
depth map, a segmentation or a sketch can show of it, so those pairs stop asking the caption's own
vector to forget its colours.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import torch

from anyseek.scenes.captions import MATERIAL_WORDS, NOUNS, PLURALS
from anyseek.scenes.scene import COLORS, SIZES

#: every generator word for a shape, singular and plural
SHAPE_WORDS: frozenset[str] = frozenset(
    {w for words in NOUNS.values() for w in words} | set(PLURALS.values())
)
#: the generator's words for what a map shows or a colour does not say: shapes, sizes, materials
NOT_COLOUR: frozenset[str] = frozenset(
    SHAPE_WORDS
    | {w for words in MATERIAL_WORDS.values() for w in words if w}
    | set(SIZES)
    | {"little", "big"}  # the sizes' other words
)
#: the generator's words for what a map cannot show: colours and materials
NOT_SHAPE: frozenset[str] = frozenset(
    set(COLORS) | {w for words in MATERIAL_WORDS.values() for w in words if w}
)
_WORDS = re.compile(r"([A-Za-z]+)")


def _left_out(caption: str, words: frozenset[str]) -> str:
    """``caption`` lower-cased with ``words`` left out and its spaces tidied."""
    parts = _WORDS.split(caption.lower())
    kept = "".join("" if p in words else p for p in parts)
    kept = re.sub(r"\s+([,.;])", r"\1", kept)
    return re.sub(r"\s+", " ", kept).strip()


def colour_caption(caption: str) -> str | None:
    """``caption`` lower-cased with its shape, size and material words left out, spaces
    tidied; None when no colour word is left (a caption of counts, an empty floor)."""
    kept = _left_out(caption, NOT_COLOUR)
    return kept if any(w in COLORS for w in _WORDS.findall(kept)) else None


def shape_caption(caption: str) -> str | None:
    """``caption`` lower-cased with its colour and material words left out, spaces tidied (what
    a map shows of it); None when it has none to leave out (then it is its own shape caption)."""
    if not any(w in NOT_SHAPE for w in _WORDS.findall(caption.lower())):
        return None
    return _left_out(caption, NOT_SHAPE)


def colour_rows(
    captions: Sequence[Sequence[str]], index: torch.Tensor, share: float, rng: random.Random
) -> tuple[list[str], torch.Tensor | None]:
    """For a ``share`` of a batch's scenes (``index`` into ``captions``, each scene's phrasings,
    the short list first), its colour caption as an extra row, and [E, B] bool: which of the
    batch's rows show that row's scene (with twin rows, both). Off (0): nothing is drawn, so a
    recipe without the lever sees the batches it saw before it."""
    if share <= 0:
        return [], None
    said, own = [], []
    for row, i in enumerate(index.tolist()):
        if rng.random() < share:
            text = colour_caption(captions[i][0])
            if text is not None:
                said.append(text)
                own.append(row)
    if not said:
        return [], None
    return said, index[own][:, None] == index[None, :]


def shape_pairs(
    texts: Sequence[str], share: float, rng: random.Random
) -> tuple[list[str], torch.Tensor | None]:
    """For a ``share`` of a batch's caption rows ``texts``, the caption's shape caption, and [S]
    which rows: in the caption's pairs with maps those rows show it in their caption's place.
    Off (0): nothing is drawn, so a recipe without the lever sees the batches it saw before."""
    if share <= 0:
        return [], None
    said, rows = [], []
    for row, text in enumerate(texts):
        if rng.random() < share:
            shaped = shape_caption(text)
            if shaped is not None:
                said.append(shaped)
                rows.append(row)
    return (said, torch.tensor(rows)) if said else ([], None)
