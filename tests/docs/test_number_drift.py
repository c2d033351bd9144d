"""Numbers the docs quote are the ones their result files hold (``bench/quotes.py`` ties each to
its file), and ``bench/README.md`` and ``lab/README.md`` are the catalogues of every result file
of ``bench/results/`` and ``lab/results/``: each listed file exists, each file is listed and
starts with its command, and the docs a row names quote that file (and no other doc does
unnamed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anyseek.workbench.card import render_card
from bench.quotes import QUOTES, RESULT_FOLDERS, ROOT, N, Quote, drift, flatten, requote

#: each folder of result files and the catalogue that lists them
CATALOGUES = {folder: folder.parent / "README.md" for folder in RESULT_FOLDERS}
#: the docs whose mentions of result files the catalogues name
DOCS = [
    "README.md",
    *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md"))),
    "lab/log.md",
]


@pytest.mark.parametrize("quote", QUOTES, ids=lambda q: f"{q.doc}:{q.pattern[:40]}")
def test_a_quoted_number_is_its_result_files(quote: Quote) -> None:
    assert drift(quote, (ROOT / quote.doc).read_text()) == []


def test_a_drifted_number_fails() -> None:
    """The check can fail: README with one demo figure changed is caught, naming the file."""
    readme = (ROOT / "README.md").read_text()
    quote = QUOTES[0]
    quoted = re.search(quote.pattern.replace("{N}", N), flatten(readme))
    assert quoted is not None
    start, end = quoted.span(3)  # the sketch's R@1
    flat = flatten(readme)
    changed = flat[:start] + f"{float(quoted.group(3)) - 0.05:.2f}" + flat[end:]
    problems = drift(quote, changed)
    assert len(problems) == 1 and "bench/results/demo.md" in problems[0], problems
    assert drift(quote, "the demo's numbers, reworded") != []


def test_requote_rewrites_a_drifted_number_to_its_result_file_s_across_lines() -> None:
    """``bench/quotes.py --write`` mends what the check catches: README with a demo figure changed
    (and the quote broken over a line) comes back to the result file's value, the rest as it was."""
    readme = (ROOT / "README.md").read_text()
    quote = QUOTES[0]
    quoted = re.search(quote.pattern.replace("{N}", N), flatten(readme))
    assert quoted is not None
    wrong = f"{float(quoted.group(3)) - 0.05:.2f}"
    before = f"sketch {quoted.group(3)} / {quoted.group(4)}"
    assert readme.count(before) == 1
    changed = readme.replace(before, f"sketch {wrong}\n/ {quoted.group(4)}")
    assert drift(quote, changed) != []
    mended = requote(quote, changed)
    assert drift(quote, mended) == []
    assert mended == readme.replace(before, f"sketch {quoted.group(3)}\n/ {quoted.group(4)}")
    assert requote(quote, "the demo's numbers, reworded") == "the demo's numbers, reworded"


def test_a_cell_reads_the_line_it_names_of_a_repeated_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report whose rows repeat (an arm in two tables) is read at the n-th line of the row, and a
    line past the last is named, not guessed at."""
    import bench.quoting as quotes

    (tmp_path / "r.md").write_text("| arm | at 96 pixels | 30.9 | 0.5 |\n| arm | 0.923 (x) |\n")
    monkeypatch.setattr(quotes, "RESULT_FOLDERS", (tmp_path,))
    assert quotes.read_cell(quotes.Cell("r.md", "| arm |", 1)) == 30.9
    assert quotes.read_cell(quotes.Cell("r.md", "| arm |", 0, line=1)) == 0.923
    with pytest.raises(AssertionError, match="2 line"):
        quotes.read_cell(quotes.Cell("r.md", "| arm |", 0, line=2))


def test_the_model_card_is_what_the_bundle_says() -> None:
    """``MODEL_CARD.md`` is rendered from the bundle's own files: its generation, run facts,
    recipe, learning curve and retrieval table cannot drift from them."""
    bundle = ROOT / "model" / "builtin" / "weights"
    assert (bundle / "MODEL_CARD.md").read_text() == render_card(bundle)


# the catalogue


def _catalogue(catalogue: Path) -> list[tuple[tuple[str, ...], set[str]]]:
    """A catalogue's rows: the result files named in a row's first column, and the docs its
    "quoted in" column names."""
    rows = []
    for line in catalogue.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) < 4:
            continue
        docs = {
            "README.md" if d == "README" else d
            for d in re.findall(r"README(?!\.)|docs/[\w/]+\.md|lab/log\.md", cells[-1])
        }
        rows.append((tuple(re.findall(r"`([\w.]+)`", cells[0])), docs))
    return rows


def _mentions(text: str, name: str) -> bool:
    """Whether a doc names a result file (as ``bench/results/NAME`` or ```NAME```)."""
    return re.search(rf"(results/|`){re.escape(name)}\b", text) is not None


@pytest.mark.parametrize("folder", RESULT_FOLDERS, ids=lambda f: str(f.relative_to(ROOT)))
def test_every_result_file_is_in_the_catalogue_and_every_listed_one_exists(folder: Path) -> None:
    catalogue = CATALOGUES[folder]
    listed = [name for files, _ in _catalogue(catalogue) for name in files]
    present = {p.name for p in folder.iterdir() if p.is_file()}
    assert sorted(present - set(listed)) == [], f"result files {catalogue} does not list"
    assert sorted(set(listed) - present) == [], f"{catalogue} lists files that do not exist"
    assert len(listed) == len(set(listed)), "a file listed twice"


def test_no_result_file_is_in_both_folders() -> None:
    """A quote names its file by name alone (``bench/quotes.py``): one name, one file."""
    bench, lab = ({p.name for p in folder.iterdir()} for folder in RESULT_FOLDERS)
    assert bench & lab == set()


@pytest.mark.parametrize(
    "path",
    sorted(p for folder in RESULT_FOLDERS for p in folder.glob("*.md")),
    ids=lambda p: p.name,
)
def test_every_result_file_starts_with_its_command(path: Path) -> None:
    head = path.read_text().splitlines()[:4]
    assert any(line.startswith(("Command", "Commands")) for line in head), head


@pytest.mark.parametrize("catalogue", CATALOGUES.values(), ids=lambda c: str(c.relative_to(ROOT)))
def test_the_catalogue_names_the_docs_that_quote_each_file(catalogue: Path) -> None:
    docs = {d: (ROOT / d).read_text() for d in DOCS}
    problems = []
    for files, named in _catalogue(catalogue):
        quoting = {d for d, text in docs.items() if any(_mentions(text, name) for name in files)}
        if quoting != named:
            problems.append(f"{files}: quoted in {sorted(quoting)}, listed {sorted(named)}")
    assert problems == []
