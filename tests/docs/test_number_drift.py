"""Numbers the docs quote are the ones their result files hold, and ``bench/README.md`` is the
catalogue of every result file: each listed file exists, each file is listed and starts with its
command, and the docs a row names quote that file (and no other doc does unnamed).

A quote is one entry of :data:`QUOTES`: a doc, a pattern whose ``{N}`` are the quoted numbers, and
where each number is read in a result file (a markdown table row and which of its numbers). A
quoted number matches when it is the file's value rounded to as many decimals as it is written
with (a percentage: the value times 100)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench.card import render_card

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
CATALOGUE = ROOT / "bench" / "README.md"
#: a quoted number in a pattern of QUOTES
N = r"(\d+(?:\.\d+)?)"
NUMBER = re.compile(r"(?<![\w.@])\d+\.\d+|(?<![\w.@])\d+(?![\d.])")


@dataclass(frozen=True)
class Cell:
    """A number of a result file: the ``index``-th number in the first line starting ``row``
    (after the row's label), as ``convert`` turns it into what the doc writes."""

    file: str
    row: str
    index: int
    convert: Callable[[float], float] = lambda v: v


def percent(value: float) -> float:
    """A share as a percentage."""
    return 100 * value


def percent_left(value: float) -> float:
    """The share that is not ``value``, as a percentage (neg@10 -> how often the item left)."""
    return 100 * (1 - value)


@dataclass(frozen=True)
class Quote:
    """Numbers quoted in a doc (the groups of ``pattern``) and the cells they come from."""

    doc: str
    pattern: str
    cells: tuple[Cell, ...]


def _human(row: str, *indices: int) -> tuple[Cell, ...]:
    """Cells of a row of ``human.md``: its full report (R@1 0, R@5 1, R@10 2, MRR 3, attr_P@10 4)
    or its summary (the v3, v8 and v9 pairs as written, then the target)."""
    return tuple(Cell("human.md", row, i) for i in indices)


DEMO = "demo.md"
INSTALL = "install.md"
NOT_LIKE = "| caption, not its top wrong hit {} | project |"
QUOTES: tuple[Quote, ...] = (
    # README: the demo's own queries
    Quote(
        "README.md",
        r"with v9; `bench/results/demo.md`\): caption {N} / {N}, sketch {N} / "
        r"{N}, depth {N} / {N}, segmentation {N} / {N}, caption\+sketch "
        r"{N} / {N}",
        tuple(
            Cell(DEMO, f"{kind} ", i)
            for kind in ("caption", "sketch", "depth", "semseg", "caption+sketch")
            for i in (1, 2)
        ),
    ),
    Quote(
        "README.md",
        r"\(`bench/results/demo\.md`\) and makes (\d+) MB of data",
        (Cell(DEMO, "`du -sh $ANYSEEK_DATA_DIR` afterwards:", 0),),
    ),
    Quote(
        "README.md",
        r"takes {N} s on this machine shared",
        (Cell(DEMO, "Wall time:", 0),),
    ),
    # README: reliability (the hostile corpus's kinds)
    Quote(
        "README.md",
        r"a hostile corpus of {N} kinds of entries",
        (Cell("reliability.md", "| kinds |", 0),),
    ),
    # README: what setting up costs (install.md)
    Quote(
        "README.md",
        r"is {N} GB, {N} GB of it `nvidia-\*` libraries",
        (
            Cell(INSTALL, "| make test-clip's venv |", 1),
            Cell(INSTALL, "| make test-clip's venv |", 2),
        ),
    ),
    Quote(
        "README.md",
        r"is {N} GB and installs in {N} s here",
        (Cell(INSTALL, "| make install |", 1), Cell(INSTALL, "| make install |", 0)),
    ),
    Quote(
        "README.md",
        r"`\.\[clip,dev\]` \({N} GB; {N} s here",
        (
            Cell(INSTALL, "| make test-clip's venv |", 1),
            Cell(INSTALL, "| make test-clip's venv |", 0),
        ),
    ),
    # README: the status of the built-in model (human.md, builtin_5k.md)
    Quote(
        "README.md",
        r"R@1 / R@10\): sketch {N} / {N}, depth {N} / {N}, segmentation "
        r"{N} / {N}, normals {N} / {N}, caption {N} / {N}, "
        r"caption\+sketch {N} / {N}, caption\+depth {N} / {N}; one-object "
        r"captions \(\"a small red cube\"\) attr_P@10 {N}",
        (
            *_human("| sketch | bind |", 0, 2),
            *_human("| depth | bind |", 0, 2),
            *_human("| semseg | bind |", 0, 2),
            *_human("| normal | bind |", 0, 2),
            *_human("| caption | bind |", 0, 2),
            *_human("| caption+sketch | bind |", 0, 2),
            *_human("| caption+depth | bind |", 0, 2),
            *_human("| object | bind |", 4),
        ),
    ),
    Quote(
        "README.md",
        r"seeds never trained on\): sketch {N} / {N}, painted segmentation {N} / "
        r"{N}, own words {N} / {N} \(a perfect reader of those words reaches R@1 "
        r"{N}",
        (
            *_human("| sketch, default person |", 4, 5),
            *_human("| painted segmentation, default person |", 4, 5),
            *_human("| own-words caption, default person |", 4, 5),
            Cell("caption_ceiling.md", "| default |", 2),
        ),
    ),
    Quote(
        "README.md",
        r"tall pages\): sketch {N} / {N}, painting {N} / {N}\. At 5,000 "
        r"scenes sketches find their scene at R@1 {N} \(`bench/results/builtin_5k\.md`\)",
        (
            *_human("| sketch, held-out person (`scrawl`) |", 2, 3),
            *_human("| painting, held-out person |", 2, 3),
            Cell("builtin_5k.md", "| sketch | bind |", 0),
        ),
    ),
    Quote(
        "README.md", r"the committed model: (\d+) min here", (Cell("training.md", "wall time:", 0),)
    ),
    # README and docs/search.md: "not like this" at the page's default weight
    Quote(
        "README.md",
        r"keeps the wanted scene in the top 10 for (\d+)% of caption queries at -0\.75 and drops "
        r"the item from it for (\d+)%",
        (
            Cell("not_like.md", NOT_LIKE.format(-0.75), 1, percent),
            Cell("not_like.md", NOT_LIKE.format(-0.75), 3, percent_left),
        ),
    ),
    Quote(
        "docs/search.md",
        r"keeps the wanted scene in the top 10 for {N}% of queries \(R@1 {N}, {N} "
        r"without the negative\) while the negative leaves the top 10 for {N}%; at -1 those "
        r"are {N}% and {N}%",
        (
            Cell("not_like.md", NOT_LIKE.format(-0.75), 1, percent),
            Cell("not_like.md", NOT_LIKE.format(-0.75), 0),
            Cell("not_like.md", "| caption alone (its top wrong hit, no negative) |", 0),
            Cell("not_like.md", NOT_LIKE.format(-0.75), 3, percent_left),
            Cell("not_like.md", NOT_LIKE.format(-1.0), 1, percent),
            Cell("not_like.md", NOT_LIKE.format(-1.0), 3, percent_left),
        ),
    ),
    # docs/builtin_model.md: the headline table's v8 and v9 columns (human.md's summary)
    *(
        Quote(
            "docs/builtin_model.md",
            rf"\| {re.escape(doc_row)} \| {{N}} / {{N}} \| {{N}} / {{N}} \|",
            _human(f"| {human_row} |", 0, 1, 2, 3),
        )
        for doc_row, human_row in (
            ("sketch", "sketch, generator's"),
            ("depth", "depth, generator's"),
            ("segmentation", "segmentation, generator's"),
            ("caption", "caption, generator's"),
        )
    ),
    *(
        Quote(
            "docs/builtin_model.md",
            rf"\| {re.escape(doc_row)} \| {{N}} / {{N}} \| {{N}} / {{N}} \|",
            _human(f"| {human_row} |", 2, 3, 4, 5),
        )
        for doc_row, human_row in (
            ("a person's sketch (`default`)", "sketch, default person"),
            ("a person's painting", "painted segmentation, default person"),
            ("a person's own words", "own-words caption, default person"),
        )
    ),
    *(
        Quote(
            "docs/builtin_model.md",
            rf"\| {re.escape(doc_row)} \| R@10 {{N}} \| R@10 {{N}} \|",
            _human(f"| {human_row} |", 1, 3),
        )
        for doc_row, human_row in (
            (
                "a person held out of training (`scrawl`): sketch",
                "sketch, held-out person (`scrawl`)",
            ),
            ("a person held out of training: painting", "painting, held-out person"),
        )
    ),
    Quote(
        "docs/builtin_model.md",
        r"\| one-object captions, attr_P@10 \| {N} \| {N} \(ceiling",
        _human("| one-object captions, attribute precision@10 |", 0, 1),
    ),
    Quote(
        "docs/builtin_model.md",
        r"\| sketch, 5,000 scenes \| [\d.]+ \(its own seed\) \| {N} \|",
        (Cell("builtin_5k.md", "| sketch | bind |", 0),),
    ),
)


def _flat(text: str) -> str:
    """A doc's text with every run of whitespace one space (quotes wrap across lines)."""
    return " ".join(text.split())


def read_cell(cell: Cell) -> float:
    """The number a cell names, converted as the doc writes it."""
    for line in (RESULTS / cell.file).read_text().splitlines():
        if line.startswith(cell.row):
            numbers = NUMBER.findall(line[len(cell.row) :].replace(",", ""))
            return cell.convert(float(numbers[cell.index]))
    raise AssertionError(f"bench/results/{cell.file} has no line starting {cell.row!r}")


def agrees(quoted: str, value: float) -> bool:
    """Whether a number written ``quoted`` is ``value`` rounded to the decimals it shows."""
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    return abs(float(quoted) - value) <= 0.5 * 10**-decimals + 1e-9


def drift(quote: Quote, text: str) -> list[str]:
    """What in ``text`` disagrees with the result files: one line per number."""
    found = re.search(quote.pattern.replace("{N}", N), _flat(text))
    if found is None:
        return [f"{quote.doc}: no text matches {quote.pattern!r} (reworded? update QUOTES)"]
    assert len(found.groups()) == len(quote.cells), quote.pattern
    return [
        f"{quote.doc} quotes {quoted} where bench/results/{cell.file} ({cell.row!r}) has {value:g}"
        for quoted, cell in zip(found.groups(), quote.cells, strict=True)
        if not agrees(quoted, value := read_cell(cell))
    ]


@pytest.mark.parametrize("quote", QUOTES, ids=lambda q: f"{q.doc}:{q.pattern[:40]}")
def test_a_quoted_number_is_its_result_files(quote: Quote) -> None:
    assert drift(quote, (ROOT / quote.doc).read_text()) == []


def test_a_drifted_number_fails() -> None:
    """The check can fail: README with one demo figure changed is caught, naming the file."""
    readme = (ROOT / "README.md").read_text()
    quote = QUOTES[0]
    quoted = re.search(quote.pattern.replace("{N}", N), _flat(readme))
    assert quoted is not None
    start, end = quoted.span(3)  # the sketch's R@1
    flat = _flat(readme)
    changed = flat[:start] + f"{float(quoted.group(3)) - 0.05:.2f}" + flat[end:]
    problems = drift(quote, changed)
    assert len(problems) == 1 and "bench/results/demo.md" in problems[0], problems
    assert drift(quote, "the demo's numbers, reworded") != []


def test_the_model_card_is_what_the_bundle_says() -> None:
    """``MODEL_CARD.md`` is rendered from the bundle's own files: its generation, run facts,
    recipe, learning curve and retrieval table cannot drift from them."""
    bundle = ROOT / "model" / "builtin" / "weights"
    assert (bundle / "MODEL_CARD.md").read_text() == render_card(bundle)


# the catalogue


def _catalogue() -> list[tuple[tuple[str, ...], set[str]]]:
    """``bench/README.md``'s rows: the result files named in a row's first column, and the docs
    its "quoted in" column names."""
    rows = []
    for line in CATALOGUE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) < 4:
            continue
        docs = {
            "README.md" if d == "README" else d
            for d in re.findall(r"README(?!\.)|docs/[\w/]+\.md", cells[-1])
        }
        rows.append((tuple(re.findall(r"`([\w.]+)`", cells[0])), docs))
    return rows


def _mentions(text: str, name: str) -> bool:
    """Whether a doc names a result file (as ``bench/results/NAME`` or ```NAME```)."""
    return re.search(rf"(results/|`){re.escape(name)}\b", text) is not None


def test_every_result_file_is_in_the_catalogue_and_every_listed_one_exists() -> None:
    listed = [name for files, _ in _catalogue() for name in files]
    present = {p.name for p in RESULTS.iterdir() if p.is_file()}
    assert sorted(present - set(listed)) == [], "result files bench/README.md does not list"
    assert sorted(set(listed) - present) == [], "bench/README.md lists files that do not exist"
    assert len(listed) == len(set(listed)), "a file listed twice"


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.md")), ids=lambda p: p.name)
def test_every_result_file_starts_with_its_command(path: Path) -> None:
    head = path.read_text().splitlines()[:4]
    assert any(line.startswith(("Command", "Commands")) for line in head), head


def test_the_catalogue_names_the_docs_that_quote_each_file() -> None:
    docs = {p: p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}
    problems = []
    for files, named in _catalogue():
        quoting = {
            str(p.relative_to(ROOT))
            for p, text in docs.items()
            if any(_mentions(text, name) for name in files)
        }
        if quoting != named:
            problems.append(f"{files}: quoted in {sorted(quoting)}, listed {sorted(named)}")
    assert problems == []
