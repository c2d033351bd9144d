"""bench/demo_report.py: the demo's output as committed, bars gone and the data folder named."""

from __future__ import annotations

from pathlib import Path

from bench.demo_report import clean, render, size_mb


def test_clean_drops_progress_bars_and_names_the_data_directory() -> None:
    output = (
        "data directory  /tmp/anyseek-demo-x1\n"
        "generating 2000 scenes into /tmp/anyseek-demo-x1/demo\n"
        "scenes:  50%|#####     | 1000/2000\rscenes: 100%|##########| 2000/2000\n"
        "caption         100    0.97  1.00   \n"
    )
    assert clean(output, "/tmp/anyseek-demo-x1").splitlines() == [
        "data directory  $ANYSEEK_DATA_DIR",
        "generating 2000 scenes into $ANYSEEK_DATA_DIR/demo",
        "caption         100    0.97  1.00",
    ]


def test_the_report_holds_what_readme_quotes(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 3 * 2**20)
    mb = size_mb(tmp_path)
    assert 3 <= mb <= 4
    text = render("caption  100  0.97  1.00", 12.34, (1.5, 1.25), mb, "CMD")
    assert "Command: `CMD`" in text.splitlines()[2]
    assert f"`du -sh $ANYSEEK_DATA_DIR` afterwards: {mb}M" in text
    assert "Wall time: 12.3 s" in text and "\ncaption  100  0.97  1.00\n" in text
