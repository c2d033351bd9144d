"""A candidate bundle measured against v10 and v9 on fresh seeds, every step of it in one command.

    PYTHONPATH=. .venv/bin/python lab/candidate.py --name v11f --bundle RUN/bundle \
        --seed 20261371 --about "the v11f-draft recipe's full run" --work /work/runs/eval_v11f

What a full run of the built-in model is judged by, each step a command the lab already has:
``anyseek eval retrieval --human`` (seed ``--seed``) and ``lab/any_to_any.py`` (``--seed`` + 1) on
v9, v10 and the candidate; ``lab/compare_models.py`` of the candidate against each
(``NAME_vs_v10.md`` and ``NAME_vs_v9.md``); and ``lab/people_words.py`` with its five wordings over
five galleries (``--seed`` + 2 to + 6) on the three side by side (``people_words_NAME.md`` and
``.json``). The seven seeds must be fresh: one that a result file already names is refused, since a
seed chosen after training is one nothing was measured on. v9's bundle is read out of git
(``V9_COMMIT``) unless ``--v9`` names a folder; each evaluation's JSON is kept in ``--work`` and not
run again, so a stopped evaluation resumes.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "lab" / "results"
SHIPPED = ROOT / "model" / "builtin" / "weights"  # v10
V9_COMMIT = "3af8b5a"  # the commit whose model/builtin/weights is v9's bundle
WORDINGS = "careful,rough,everyday,colours,shapes"
GALLERIES = 5  # people's words: one gallery per seed


@dataclass(frozen=True)
class Seeds:
    """The fresh seeds of one candidate's evaluation."""

    human: int  # anyseek eval retrieval --human
    pairs: int  # lab/any_to_any.py
    words: tuple[int, ...]  # lab/people_words.py, one gallery each

    @classmethod
    def from_first(cls, first: int) -> Seeds:
        """Seven consecutive seeds from ``first``."""
        return cls(first, first + 1, tuple(first + 2 + k for k in range(GALLERIES)))

    def all(self) -> tuple[int, ...]:
        """Every seed, in order."""
        return (self.human, self.pairs, *self.words)


def written(name: str, results: Path) -> list[Path]:
    """The reports this tool writes for candidate ``name``."""
    words = results / f"people_words_{name}.md"
    return [results / f"{name}_vs_v10.md", results / f"{name}_vs_v9.md", words,
            words.with_suffix(".json")]  # fmt: skip


def used_seeds(seeds: Seeds, results: Path, own: list[Path]) -> list[int]:
    """The seeds a result file in ``results`` already names (as a whole number), but for the
    candidate's ``own`` reports (a resumed evaluation's)."""
    files = sorted(results.glob("*.md")) + sorted(results.glob("*.json"))
    texts = [p.read_text(errors="replace") for p in files if p not in own]
    found = set()
    for seed in seeds.all():
        pattern = re.compile(rf"(?<![\d.]){seed}(?![\d.])")
        if any(pattern.search(t) for t in texts):
            found.add(seed)
    return sorted(found)


def v9_bundle(work: Path) -> Path:
    """v9's bundle, read out of git into ``work/v9`` once."""
    folder = work / "v9"
    if (folder / "config.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "v9.tar"
        source = f"{V9_COMMIT}:model/builtin/weights"
        done = subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), source],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            sys.exit(f"cannot read v9's bundle out of git ({source}): {done.stderr.strip()}")
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    return folder


def run(argv: list[str], out: Path) -> None:
    """Run one step unless its output is already there; stop with its error otherwise."""
    if out.is_file():
        return
    print("$", shlex.join(argv), flush=True)
    done = subprocess.run(argv, cwd=ROOT, env=_env())
    if done.returncode != 0 or not out.is_file():
        sys.exit(f"step failed (exit {done.returncode}): {shlex.join(argv)}")


def _env() -> dict[str, str]:
    """The environment with the repository on the import path."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def evaluate(name: str, bundle: Path, seeds: Seeds, n: int, work: Path) -> tuple[Path, Path]:
    """One model's human evaluation and any-to-any table (JSON in ``work``)."""
    human = work / f"{name}.human-{seeds.human}-{n}.json"  # another seed or size: another file
    pairs = work / f"{name}.pairs-{seeds.pairs}-{n}.json"
    python = sys.executable
    run([python, "-m", "anyseek.cli", "eval", "retrieval", "--n", str(n), "--seed",
         str(seeds.human), "--human", "--model", str(bundle), "--json", str(human)],
        human)  # fmt: skip
    run([python, "lab/any_to_any.py", "--n", str(n), "--seed", str(seeds.pairs), "--model",
         str(bundle), "--json", str(pairs)], pairs)  # fmt: skip
    return human, pairs


def main(argv: list[str] | None = None) -> None:
    """Evaluate the three models, then write the comparisons and people's words."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the candidate's name, e.g. v11f")
    parser.add_argument("--bundle", type=Path, required=True, help="the candidate's bundle folder")
    parser.add_argument("--seed", type=int, required=True, help="the first of seven fresh seeds")
    parser.add_argument("--about", required=True, help="what the candidate is, for the titles")
    parser.add_argument("--work", type=Path, required=True, help="where evaluations are kept")
    parser.add_argument("--n", type=int, default=1000, help="scenes per evaluation and gallery")
    parser.add_argument("--v9", type=Path, help="v9's bundle folder (default: out of git)")
    parser.add_argument("--v10", type=Path, default=SHIPPED, help="v10's bundle folder")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the reports go")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z0-9_]+", args.name) or args.name in ("v9", "v10"):
        parser.error(f"--name {args.name!r}: lower-case letters, digits and _, not v9 or v10")
    if args.n < 10:
        parser.error("--n must be at least 10")
    for label, folder in (("--bundle", args.bundle), ("--v10", args.v10), ("--v9", args.v9)):
        if folder is not None and not (folder / "config.json").is_file():
            parser.error(f"{label} {folder}: no bundle there (no config.json)")
    seeds = Seeds.from_first(args.seed)
    if used := used_seeds(seeds, args.results, written(args.name, args.results)):
        parser.error(
            f"seed(s) {', '.join(map(str, used))} already named in {args.results}: a candidate is "
            f"measured on seeds nothing was measured on (--seed takes seven from the first)"
        )
    for report in written(args.name, args.results):  # a resumed evaluation's, of these seeds
        text = report.read_text(errors="replace") if report.is_file() else None
        if text is not None and str(seeds.human) not in text and str(seeds.words[0]) not in text:
            parser.error(f"{report} is from other seeds: remove it or choose another --name")
    if args.work.exists() and not args.work.is_dir():
        parser.error(f"--work {args.work}: not a folder")
    args.work.mkdir(parents=True, exist_ok=True)
    models = {"v9": args.v9 or v9_bundle(args.work), "v10": args.v10, args.name: args.bundle}
    reports = {m: evaluate(m, folder, seeds, args.n, args.work) for m, folder in models.items()}
    python = sys.executable
    for old in ("v10", "v9"):
        title = (
            f"{args.name} ({args.about}) against {old} on fresh seeds, {args.n:,} scenes each "
            f"(seeds {seeds.human} and {seeds.pairs}, chosen after training)"
        )
        out = args.results / f"{args.name}_vs_{old}.md"
        run([python, "lab/compare_models.py", "--names", old, args.name, "--reports",
             str(reports[old][0]), str(reports[args.name][0]), "--pairs", str(reports[old][1]),
             str(reports[args.name][1]), "--title", title, "--out", str(out)], out)  # fmt: skip
    words = written(args.name, args.results)[2]
    run([python, "lab/people_words.py", "--seeds", ",".join(map(str, seeds.words)), "--n",
         str(args.n), "--wordings", WORDINGS, "--models",
         *(f"{m}={folder}" for m, folder in models.items()),
         "--json", str(words.with_suffix(".json")), "--out", str(words)], words)  # fmt: skip
    print(f"wrote {args.name}_vs_v10.md, {args.name}_vs_v9.md and {words.name} in {args.results}")


if __name__ == "__main__":
    main()
