"""The extras the CLI checks are pyproject.toml's, and a missing one is one line naming it."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

from anyseek.cli import main
from anyseek.cli.extras import EXTRAS, extra_modules, missing_modules

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF_EXTRA = re.compile(r"anyseek\[(?P<extras>[^\]]+)\]")


def _name(requirement: str) -> str:
    """A requirement's normalised distribution name: ``Open_Clip-Torch>=2`` -> open-clip-torch."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()


def _declared(extra: str) -> tuple[set[str], set[str]]:
    """An extra's own distributions and the extras it includes, as pyproject.toml lists them."""
    own: set[str] = set()
    included: set[str] = set()
    for requirement in PROJECT["optional-dependencies"][extra]:
        inner = SELF_EXTRA.match(requirement)
        if inner:
            included |= {e.strip() for e in inner["extras"].split(",")}
        else:
            own.add(_name(requirement))
    return own, included


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_the_cli_checks_the_extras_that_pyproject_declares(extra: str) -> None:
    own, included = _declared(extra)
    assert own == set(EXTRAS[extra].modules), f"[{extra}] lists {sorted(own)}"
    assert included == set(EXTRAS[extra].includes)


def test_no_core_dependency_is_one_an_extra_brings() -> None:
    """``pip install anyseek`` must not pull in what only the demo's generator or training use."""
    core = {_name(r) for r in PROJECT["dependencies"]}
    for name, extra in EXTRAS.items():
        assert not core & set(extra.modules), f"[{name}] distributions are core dependencies"


@pytest.mark.parametrize(
    ("distribution", "module"),
    [(d, m) for extra in EXTRAS.values() for d, m in extra.modules.items()],
)
def test_each_distribution_installs_the_module_the_cli_looks_for(
    distribution: str, module: str
) -> None:
    """make test installs every extra: each module is there and comes from that distribution."""
    installed_by = importlib.metadata.packages_distributions().get(module, [])
    assert distribution in {_name(d) for d in installed_by}, (module, installed_by)
    assert module not in missing_modules("train")


def test_train_includes_the_scene_generator() -> None:
    assert set(extra_modules("scenes")) <= set(extra_modules("train"))


@pytest.mark.parametrize(
    ("args", "absent", "extra"),
    [
        (["train", "default", "--recipe", "tiny", "--out", "{tmp}/run"], "numba", "train"),
        (["demo", "--no-serve", "--n", "10"], "numba", "scenes"),
        (["data", "synth", "--out", "{tmp}/run", "--n", "2"], "scipy", "scenes"),
        (["data", "show", "{tmp}/run"], "numba", "scenes"),
        (["eval", "retrieval", "--json", "{tmp}/run/report.json"], "numba", "scenes"),
    ],
)
def test_a_command_without_its_extra_names_the_pip_install(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    absent: str,
    extra: str,
) -> None:
    """A None entry in sys.modules is how Python marks a module that cannot be imported."""
    monkeypatch.setitem(sys.modules, absent, None)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(tmp_path / "data"))
    code = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert f"pip install 'anyseek[{extra}]'" in err[0] and absent in err[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()  # stopped first
