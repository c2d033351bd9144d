"""How long the whole test suite takes on this machine, and where its time goes (issue 71).

    PYTHONPATH=. .venv/bin/python bench/test_suite.py --out bench/results/test_suite.md

Runs the README's test command (``make test``) with ``ANYSEEK_REQUIRE_SERVICES=1`` as CI does,
and writes its wall time, the machine's CPU and load, pytest's closing line and its slowest
tests (``--durations``), so the README's figure for ``make test`` comes from a run, and the
suites that cost CI most are named.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.indexing_phone import cpu_name  # noqa: E402

CI_BUDGET_MIN = 30  # the developers' guide: CI under 30 minutes on this 2-core machine
DURATION = re.compile(r"^(\d+\.\d+)s (call|setup|teardown)\s+(\S+)")
CLOSING = re.compile(r"^=+ (.*(?:passed|failed).*) in [\d.]+s")


def run_suite(slowest: int, workers: int | None) -> tuple[float, int, list[str]]:
    """``make test`` as CI runs it (on ``workers`` pytest-xdist workers, None: the Makefile's
    default): wall seconds, exit code, its output's lines."""
    env = dict(os.environ, ANYSEEK_REQUIRE_SERVICES="1", PYTEST_ARGS=f"--durations={slowest}")
    if workers is not None:
        env["TEST_WORKERS"] = str(workers)
    start = time.monotonic()
    done = subprocess.run(
        ["make", "test"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    lines = (done.stdout + done.stderr).splitlines()
    return time.monotonic() - start, done.returncode, lines


def report(
    wall_s: float,
    code: int,
    lines: list[str],
    slowest: int,
    workers: int | None,
    out: str = "bench/results/test_suite.md",
) -> str:
    """The result file's Markdown; its command names ``out``, the file it was written to."""
    closing = next((m.group(1) for line in lines if (m := CLOSING.match(line))), "no summary")
    durations = [m.groups() for line in lines if (m := DURATION.match(line))][:slowest]
    load = os.getloadavg()
    rows = [f"| {float(s):.1f} | {phase} | `{test}` |" for s, phase, test in durations]
    flag, make = (
        ("", "make test")
        if workers is None
        else (f" --workers {workers}", f"make test TEST_WORKERS={workers}")
    )
    return "\n".join(
        [
            "# The whole test suite on this machine",
            "",
            "Command: `PYTHONPATH=. .venv/bin/python bench/test_suite.py --out "
            f"{out}{flag}` (runs `{make}` with ANYSEEK_REQUIRE_SERVICES=1, "
            "as `.ci/run` does before `make test-clip`)",
            "",
            f"CPU: {cpu_name()}, {os.cpu_count()} cores; load average {load[0]:.1f} / "
            f"{load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) when it ended; exit code {code}.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| wall time, minutes | {wall_s / 60:.1f} |",
            f"| share of CI's {CI_BUDGET_MIN} minutes | {wall_s / 60 / CI_BUDGET_MIN:.2f} |",
            f"| pytest | {closing} |",
            "",
            f"The {len(rows)} slowest phases (seconds):",
            "",
            "| seconds | phase | test |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


def main() -> None:
    """Run the suite and write (or print) its report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--slowest", type=int, default=25)
    parser.add_argument(
        "--workers", type=int, help="pytest-xdist workers (make's TEST_WORKERS; default: its own)"
    )
    args = parser.parse_args()
    wall_s, code, lines = run_suite(args.slowest, args.workers)
    shown = str(args.out) if args.out else "bench/results/test_suite.md"
    text = report(wall_s, code, lines, args.slowest, args.workers, shown)
    print("\n".join(lines[-60:]))
    print(text)
    if args.out:
        args.out.write_text(text)
    sys.exit(code)


if __name__ == "__main__":
    main()
