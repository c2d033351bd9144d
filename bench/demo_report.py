"""``anyseek demo --no-serve`` on a new data directory, written up whole as bench/results/demo.md.

    PYTHONPATH=. .venv/bin/python bench/demo_report.py --out bench/results/demo.md

Runs the demo as a user would (its own process, a fresh ``ANYSEEK_DATA_DIR``), then writes its
wall time, the load around it, the data it made and its output (progress bars left out, the
temporary directory written ``$ANYSEEK_DATA_DIR``). README quotes the file's numbers and
``tests/docs/test_number_drift.py`` holds them together, so nothing here is copied by hand.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "model" / "builtin" / "weights" / "bundle.json"
BAR = re.compile(r"\d+%\|")  # a progress bar


def clean(output: str, data_dir: str) -> str:
    """The demo's output as a reader sees it once the bars are gone."""
    lines = []
    for line in output.replace(data_dir, "$ANYSEEK_DATA_DIR").splitlines():
        line = line.rsplit("\r", 1)[-1].rstrip()
        if not BAR.search(line):
            lines.append(line)
    return "\n".join(lines).strip("\n")


def size_mb(path: Path) -> int:
    """What a folder holds on disk, in MB (rounded up, as ``du -sh`` does)."""
    total = sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())
    return -(-total // 2**20)


def render(output: str, wall: float, loads: tuple[float, float], mb: int, command: str) -> str:
    """The whole file."""
    generation = json.loads(BUNDLE.read_text()).get("generation", "(no generation)")
    today = datetime.date.today().isoformat()
    return f"""# The demo's own queries (`anyseek demo`)

Command: `{command}` (runs `anyseek demo --no-serve` with a new `ANYSEEK_DATA_DIR`)

On a new data directory (generating the 2,000 scenes, indexing them, asking 100 scenes per kind),
on this project's 2-core machine (load average {loads[0]:.2f} at the start, {loads[1]:.2f} at the
end), {today}, built-in model {generation}. The scenes, the queries and so the R@1 / R@10 below
are the same on every run (fixed seeds); the wall time is not.
`du -sh $ANYSEEK_DATA_DIR` afterwards: {mb}M (the data it made).

Wall time: {wall:.1f} s

README quotes the table (`tests/docs/test_number_drift.py` holds them together).

Its output, progress bars left out:

```
{output}
```
"""


def main(argv: list[str] | None = None) -> None:
    """Run the demo once and write (or print) the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    anyseek = shutil.which("anyseek", path=str(Path(sys.executable).parent)) or "anyseek"
    with tempfile.TemporaryDirectory(prefix="anyseek-demo-") as data:
        env = {**os.environ, "ANYSEEK_DATA_DIR": data}
        before, began = os.getloadavg()[0], time.monotonic()
        run = subprocess.run(
            [anyseek, "demo", "--no-serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        wall, after = time.monotonic() - began, os.getloadavg()[0]
        if run.returncode != 0:
            sys.exit(f"anyseek demo failed (exit {run.returncode}):\n{run.stdout[-3000:]}")
        mb = size_mb(Path(data))
        output = clean(run.stdout, data)
    command = "PYTHONPATH=. .venv/bin/python " + shlex.join(["bench/demo_report.py", *argv])
    text = render(output, wall, (before, after), mb, command)
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
