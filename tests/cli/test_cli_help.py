"""The command line's help reads as words: no ``<bool>``-style type tags, the demo's serving
address among its options."""

from __future__ import annotations

import pytest

from cli import main


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
