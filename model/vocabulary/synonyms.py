"""People's words for the scene world's colours, shapes, sizes and materials: one synonym table.

The built-in model's captions use a small closed vocabulary (``anyseek.scenes.scene.COLORS``,
``anyseek.scenes.captions.NOUNS``...), so its WordPiece has never seen "teal", "pyramid" or "grey".
:data:`SYNONYMS` maps such words (and a few two-word phrases) to the generator's own words; search
rewrites a caption with it before tokenising (:func:`canonical_caption`), and the human-style
query model paraphrases captions the other way (:func:`paraphrase_words`). Plain data: this
module imports nothing of the renderer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SYNONYMS: dict[str, str] = {
    # colours -> scenes.scene.COLORS
    "light blue": "cyan", "sky blue": "cyan", "baby blue": "cyan", "teal": "cyan",
    "turquoise": "cyan", "aqua": "cyan", "aquamarine": "cyan",
    "dark blue": "blue", "navy": "blue", "navy blue": "blue", "royal blue": "blue",
    "cobalt": "blue", "indigo": "blue", "azure": "blue",
    "crimson": "red", "scarlet": "red", "maroon": "red", "cherry": "red", "ruby": "red",
    "violet": "purple", "lilac": "purple", "lavender": "purple", "magenta": "purple",
    "mauve": "purple", "plum": "purple",
    "lime": "green", "lime green": "green", "emerald": "green", "olive green": "green",
    "gold": "yellow", "golden": "yellow", "lemon": "yellow", "mustard": "yellow",
    "tangerine": "orange", "amber": "orange", "peach": "orange",
    "rose": "pink", "salmon": "pink", "fuchsia": "pink", "hot pink": "pink",
    "chocolate": "brown", "tan": "brown", "bronze": "brown", "coffee": "brown",
    "grey": "gray", "silver": "gray",
    "ivory": "white", "cream": "white",
    "charcoal": "black", "ebony": "black",
    # shapes -> scenes.captions.NOUNS (singular and plural)
    "pyramid": "cone", "pyramids": "cones", "spike": "cone", "funnel": "cone",
    "orb": "sphere", "orbs": "spheres", "globe": "sphere", "globes": "spheres",
    "bead": "ball", "marble": "ball", "marbles": "balls",
    "cuboid": "cube", "cuboids": "cubes", "dice": "cube", "die": "cube", "crate": "box",
    "crates": "boxes", "square": "cube", "squares": "cubes", "brick": "block",
    "bricks": "blocks",
    "tube": "cylinder", "tubes": "cylinders", "pipe": "cylinder",
    "pillar": "cylinder", "pillars": "cylinders", "column": "cylinder",
    "columns": "cylinders", "barrel": "cylinder", "drum": "cylinder", "disc": "cylinder",
    "doughnut": "donut", "doughnuts": "donuts", "bagel": "ring", "hoop": "ring",
    "loop": "ring", "toruses": "tori", "circle": "ring",
    # sizes, materials
    "tiny": "small", "mini": "small", "huge": "large", "giant": "large",
    "tall": "large", "massive": "large", "enormous": "large",
    "metalic": "metal", "steel": "metal", "chrome": "metal", "glossy": "shiny",
    "reflective": "shiny", "iron": "metal", "dull": "matte", "matt": "matte",
    "plastic": "matte", "rubbery": "rubber",
}  # fmt: skip
"""A person's word or two-word phrase (lower case) -> the generator's word for it."""

PARAPHRASES: dict[str, tuple[str, ...]] = {}
"""The generator's word -> people's words for it (the table read backwards)."""
for _word, _known in SYNONYMS.items():
    if _word != _known:
        PARAPHRASES.setdefault(_known, ())
        PARAPHRASES[_known] = (*PARAPHRASES[_known], _word)


def _pattern(table: Mapping[str, str]) -> re.Pattern[str]:
    """One regular expression for every entry, longest first, whole words only."""
    words = sorted(table, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


_SYNONYM_PATTERN = _pattern(SYNONYMS)
#: each entry's first word: an ASCII caption none of whose words is one has nothing to replace
_FIRST_WORDS: frozenset[str] = frozenset(entry.split(" ")[0] for entry in SYNONYMS)
_LETTER_RUN = re.compile(r"[a-z]+")


def canonical_caption(text: str) -> str:
    """``text`` with every word of :data:`SYNONYMS` replaced by the generator's word.

    "A teal pyramid next to a light blue ball" -> "A cyan cone next to a cyan ball".
    """
    if text.isascii() and _FIRST_WORDS.isdisjoint(_LETTER_RUN.findall(text.lower())):
        # the pattern would match nothing: an entry found at word boundaries starts a run of
        # letters equal to its first word. Training reads most captions this way, a few times
        # faster than the pattern, which scans every entry at every word (non-ASCII text, whose
        # case folding is wider, always takes the pattern)
        return text
    return _SYNONYM_PATTERN.sub(_generator_word, text)


def _generator_word(match: re.Match[str]) -> str:
    """The table's word for a match; the pattern folds case as Unicode does ("ſteel" is
    "steel" to it), and ``casefold`` finds the entry where ``lower`` does not."""
    found = match.group(0)
    return SYNONYMS.get(found.lower()) or SYNONYMS.get(found.casefold(), found)


def paraphrase_words(known: str) -> tuple[str, ...]:
    """People's words for one of the generator's words (empty when the table has none)."""
    return PARAPHRASES.get(known, ())
