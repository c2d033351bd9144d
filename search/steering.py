"""How a "not like this" item steers a query vector: the rules, and the default one and weight.

A negative item used to be added at its weight (``q - |w| n``), which at the page's old default
of -1 overwhelmed the query: the wanted scene fell from #4 to past #1000. The ``project`` rule
removes only a share ``|w|`` of the query's component along the item (at -1 the query becomes
orthogonal to it, never its opposite), so it steers away without turning the query around.
``lab/not_like.py`` measures both rules at each weight on the built-in model; its figures, the
default -0.75's included, are in ``lab/results/not_like.md`` (quoted in README and
``docs/search.md``, never here, so they cannot drift).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: rule(query [.., d] unit, weight < 0, negative [.., d] unit) -> the steered query (not normed)
NegativeRule = Callable[[np.ndarray, float, np.ndarray], np.ndarray]


def subtract(query: np.ndarray, weight: float, negative: np.ndarray) -> np.ndarray:
    """The query plus the weighted (negative) item: the old rule, strong at any weight."""
    return query + weight * negative


def project(query: np.ndarray, weight: float, negative: np.ndarray) -> np.ndarray:
    """The query less a share ``|weight|`` (at most 1) of its component along the item."""
    along = (query * negative).sum(-1, keepdims=True)
    return query - min(abs(weight), 1.0) * along * negative


NEGATIVE_RULES: dict[str, NegativeRule] = {"subtract": subtract, "project": project}
#: the rule search uses, and the weight the page gives "not like this" (measured, see above)
DEFAULT_RULE = "project"
DEFAULT_NEGATIVE_WEIGHT = -0.75


def steer(query: np.ndarray, negatives: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """The unit query steered away from each (weight, unit item vector), by the default rule."""
    rule = NEGATIVE_RULES[DEFAULT_RULE]
    for weight, vector in negatives:
        query = rule(query, weight, vector)
    return query
