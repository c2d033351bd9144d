"""How a quoted number is checked against its result file: the cell it is read from, the file
it is in (``bench/results/`` or ``lab/results/``), and how a doc's quote is found, compared and
rewritten. The registry of quotes is ``bench/quotes.py``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: where result files live: the service's benchmarks, then the model research (lab/)
RESULT_FOLDERS = (ROOT / "bench" / "results", ROOT / "lab" / "results")
#: a quoted number in a pattern of QUOTES
N = r"(\d+(?:\.\d+)?)"
NUMBER = re.compile(r"(?<![\w.@])\d+\.\d+|(?<![\w.@])\d+(?![\d.])")


@dataclass(frozen=True)
class Cell:
    """A number of a result file: the ``index``-th number in the ``line``-th line (0: the first)
    starting ``row`` (after the row's label), as ``convert`` turns it into what the doc writes."""

    file: str
    row: str
    index: int
    convert: Callable[[float], float] = lambda v: v
    line: int = 0


def percent(value: float) -> float:
    """A share as a percentage."""
    return 100 * value


def percent_left(value: float) -> float:
    """The share that is not ``value``, as a percentage (neg@10 -> how often the item left)."""
    return 100 * (1 - value)


def old_and_new(file: str, row: str) -> tuple[Cell, Cell]:
    """A ``lab/compare_models.py`` row's two numbers: the old model's, then the new one's."""
    return Cell(file, row, 0), Cell(file, row, 1)


def change(file: str, row: str) -> Cell:
    """A ``lab/compare_models.py`` row's change: the new model's number less the old one's."""
    return Cell(file, row, 2)


@dataclass(frozen=True)
class Quote:
    """Numbers quoted in a doc (the groups of ``pattern``) and the cells they come from."""

    doc: str
    pattern: str
    cells: tuple[Cell, ...]


def flatten(text: str) -> str:
    """A doc's text with every run of whitespace one space (quotes wrap across lines)."""
    return " ".join(text.split())


def result_path(name: str) -> Path:
    """The result file named ``name`` in the first of :data:`RESULT_FOLDERS` that holds it."""
    for folder in RESULT_FOLDERS:
        if (folder / name).is_file():
            return folder / name
    raise AssertionError(f"no result file {name} in {[str(f) for f in RESULT_FOLDERS]}")


def shown(name: str) -> str:
    """A result file's path as a doc names it (``bench/results/NAME`` or ``lab/results/NAME``)."""
    path = result_path(name)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def read_cell(cell: Cell) -> float:
    """The number a cell names, converted as the doc writes it."""
    text = result_path(cell.file).read_text()
    lines = [x for x in text.splitlines() if x.startswith(cell.row)]
    if len(lines) <= cell.line:
        raise AssertionError(
            f"{shown(cell.file)} has {len(lines)} line(s) starting {cell.row!r}, "
            f"not a line {cell.line}"
        )
    numbers = NUMBER.findall(lines[cell.line][len(cell.row) :].replace(",", ""))
    return cell.convert(float(numbers[cell.index]))


def decimals(quoted: str) -> int:
    """How many decimals a number is written with."""
    return len(quoted.split(".")[1]) if "." in quoted else 0


def agrees(quoted: str, value: float) -> bool:
    """Whether a number written ``quoted`` is ``value`` rounded to the decimals it shows."""
    return abs(float(quoted) - value) <= 0.5 * 10 ** -decimals(quoted) + 1e-9


def drift(quote: Quote, text: str) -> list[str]:
    """What in ``text`` disagrees with the result files: one line per number."""
    found = re.search(quote.pattern.replace("{N}", N), flatten(text))
    if found is None:
        return [f"{quote.doc}: no text matches {quote.pattern!r} (reworded? update QUOTES)"]
    assert len(found.groups()) == len(quote.cells), quote.pattern
    return [
        f"{quote.doc} quotes {quoted} where {shown(cell.file)} ({cell.row!r}) has {value:g}"
        for quoted, cell in zip(found.groups(), quote.cells, strict=True)
        if not agrees(quoted, value := read_cell(cell))
    ]


def _loose(pattern: str) -> str:
    """``pattern`` (written against flattened text) matching the doc as it is: a space may be any
    run of whitespace, a line break included."""
    return re.sub(r"\\? ", lambda _: r"\s+", pattern.replace("{N}", N))


def requote(quote: Quote, text: str) -> str:
    """``text`` with the numbers ``quote`` names rewritten to their result files' values, each
    with as many decimals as it had; unchanged where they agree or the wording does not match."""
    found = re.search(_loose(quote.pattern), text)
    if found is None:
        return text
    for group in range(len(quote.cells), 0, -1):  # from the end, so earlier spans hold
        quoted, value = found.group(group), read_cell(quote.cells[group - 1])
        if agrees(quoted, value):
            continue
        start, end = found.span(group)
        text = text[:start] + f"{value:.{decimals(quoted)}f}" + text[end:]
    return text
