"""The ``anyseek ...`` commands and ``curl ...`` requests shown in README.md and docs/*.md.

Every fenced code block (indented ones in lists too) is read as shell: continuation lines and
quotes left open across lines are joined into one command, comments are dropped, and each
command that starts with ``anyseek`` or ``curl`` (or starts one after environment assignments,
``&&`` or ``|``) is an example, named by its file and the line it starts on.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^([ \t]*)```[\w-]*[ \t]*\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
RUNS = re.compile(r"(^|&&|\||\s)(anyseek|curl)\s")


@dataclass(frozen=True)
class DocExample:
    """One command of the docs: where it is, its text as written (comment dropped) and its key."""

    source: str  # file:line, e.g. docs/api.md:10
    text: str  # the command as written, continuation lines and all

    @property
    def key(self) -> str:
        """The command on one line, spaces collapsed: what the tables of the test name."""
        return " ".join(self.text.replace("\\\n", " ").split())

    @property
    def kind(self) -> str:
        """``curl`` for an HTTP request, ``anyseek`` for a command."""
        return "curl" if self.key.startswith("curl ") else "anyseek"


def doc_files() -> list[Path]:
    """README.md and every page of docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _without_comment(command: str) -> str:
    """The command without its trailing ``# ...`` comment (a ``#`` inside quotes stays)."""
    for match in re.finditer(r"\s#", command):
        head = command[: match.start()]
        try:
            shlex.split(head)
        except ValueError:
            continue  # the '#' is inside quotes
        return head.rstrip()
    return command.rstrip()


def _commands(block: str) -> list[tuple[int, str]]:
    """(line offset, command) of a code block, lines joined while a quote or ``\\`` is open."""
    found, buffer, first = [], "", 0
    for offset, line in enumerate(block.splitlines()):
        if not buffer:
            first = offset
        buffer = f"{buffer}\n{line}" if buffer else line
        if buffer.rstrip().endswith("\\"):
            continue
        try:
            shlex.split(buffer, comments=True)
        except ValueError:
            continue  # a quote is still open
        found.append((first, buffer.strip()))
        buffer = ""
    return found


def doc_examples() -> list[DocExample]:
    """Every example of the docs, in reading order (README first, then docs/ by name)."""
    examples = []
    for path in doc_files():
        text = path.read_text()
        for block in FENCE.finditer(text):
            start = text[: block.start()].count("\n") + 2  # the fence line, then the body
            for offset, command in _commands(textwrap.dedent(block.group(2))):
                command = _without_comment(command)
                if command.startswith("#") or not RUNS.search(command.split("\n")[0]):
                    continue
                name = f"{path.relative_to(ROOT)}:{start + offset}"
                examples.append(DocExample(name, command))
    return examples
