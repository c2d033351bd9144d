"""bench/indexing.py's result file keeps each section in its place, and an earlier revision is
checked out beside this one and removed again (``--phone --baseline-rev``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.indexing_phone import (
    MARK_BEGIN,
    MARK_COMPARE_BEGIN,
    MARK_COMPARE_END,
    MARK_END,
    write_section,
)
from bench.revisions import ROOT, baseline_tree, remove_tree

PHONE = f"{MARK_BEGIN}\n## Phone\nold rows\n{MARK_END}\n"
COMPARE = f"{MARK_COMPARE_BEGIN}\n## Before and after\nrows\n{MARK_COMPARE_END}\n"


def test_the_comparison_goes_after_the_phone_section_and_its_prose_and_is_replaced_there(
    tmp_path: Path,
) -> None:
    results = tmp_path / "indexing.md"
    results.write_text(f"# Indexing throughput\n\n{PHONE}\nWhere the time goes.\n\n## Older\nx\n")
    write_section(results, COMPARE, MARK_COMPARE_BEGIN, MARK_COMPARE_END)
    text = results.read_text()
    assert text.index(MARK_END) < text.index("Where the time goes.") < text.index(COMPARE)
    assert text.index(COMPARE) < text.index("## Older")
    write_section(
        results, COMPARE.replace("rows", "new rows"), MARK_COMPARE_BEGIN, MARK_COMPARE_END
    )
    write_section(results, PHONE.replace("old rows", "fresh rows"))
    again = results.read_text()
    assert again.count(MARK_COMPARE_BEGIN) == 1 and "new rows" in again and "\nrows" not in again
    assert "fresh rows" in again and "old rows" not in again
    assert again.index(MARK_END) < again.index(MARK_COMPARE_BEGIN) < again.index("## Older")


def test_a_revision_is_checked_out_beside_this_one_and_removed() -> None:
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = baseline_tree(rev)
    try:
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        assert head == rev and (tree / "bench" / "indexing.py").is_file()
    finally:
        remove_tree(tree)
    assert not tree.exists()
