"""English function words: the glue of a caption ("with", "and", "on the"), never an unknown word.

A model that does not know "near" or "its" still reads what the caption is about from its content
words (colours, shapes, sizes, materials), so search warns only about content words it does not
know. Negations stay out of this list: a model that cannot read "not" or "without" searches for
the opposite of what was asked, which is worth a warning. Plain data.
"""

from __future__ import annotations

GROUPS: dict[str, str] = {
    "articles and determiners": "a an the this that these those some any each every either "
    "neither both all few many much more most other another such what which whose",
    "pronouns": "i me my mine we us our ours you your yours he him his she her hers it its they "
    "them their theirs itself themselves one ones who whom",
    "prepositions": "about above across after against along alongside amid among amongst around "
    "as at atop before behind below beneath beside besides between beyond by down during for "
    "from in inside into like near next of off on onto opposite out outside over past per since "
    "than through throughout to toward towards under underneath until up upon via with within",
    "conjunctions": "and or but so yet because if while whereas though although then",
    "auxiliary and modal verbs": "am is are was were be been being do does did have has had "
    "having can could may might must shall should will would",
    "particles, adverbs of place and degree": "there here where when how also just only very "
    "quite rather too really somewhat",
}
"""The function words by kind, space-separated."""
FUNCTION_WORDS: frozenset[str] = frozenset(w for words in GROUPS.values() for w in words.split())
"""Lower-case function words; words are compared as the caption tokenizers lower-case them."""


def is_function_word(word: str) -> bool:
    """Whether ``word`` (any case) is a function word, never reported as unknown."""
    return word.lower() in FUNCTION_WORDS
