"""The command line's help reads as words: no ``<bool>``-style type tags, arguments named as
SOURCE rather than {source}, a repeatable option's value not as TEXT..., the demo's serving
address among its options."""

from __future__ import annotations

import pytest

from anyseek.cli import main


@pytest.mark.parametrize("command", [("demo",), ("search",), ("serve",), ("db", "upgrade")])
def test_help_has_no_type_tags(command: tuple[str, ...], capsys: pytest.CaptureFixture) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "<bool>" not in out and "<int" not in out and "<str>" not in out and "<path>" not in out
    assert "--help" in out


def test_demo_takes_host_and_port(capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (("index",), "anyseek index [OPTIONS] SOURCE"),
        (("jobs", "show"), "anyseek jobs show [OPTIONS] JOB_ID"),
        (("reindex",), "anyseek reindex [OPTIONS] COLLECTION"),
    ],
)
def test_usage_names_arguments_in_capitals(
    command: tuple[str, ...], usage: str, capsys: pytest.CaptureFixture
) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert usage in " ".join(out.split()), out
    usage_line = next(line for line in out.splitlines() if "Usage:" in line)
    assert "{" not in usage_line, usage_line


def test_repeatable_options_show_one_value_each(capsys: pytest.CaptureFixture) -> None:
    assert main(["search", "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if "..." in line.split("  ")[0] or "TEXT..." in line]
    weight = next(line for line in lines if "--weight" in line)
    assert "MODALITY=W" in weight, weight
