"""The layering contracts in pyproject.toml hold, and an upward import breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "anyseek",
    "cli",
    "model",
    "search",
    "indexer",
    "api",
    "workers",
    "migrations",
    "workbench",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
INTERFACE = ("service", "queries")  # the model/ modules the layers above may import


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the tree at ``root`` with its pyproject.toml contracts."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"import-linter is not installed next to {sys.executable}: make install")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def copy_tree(tmp_path: Path) -> Path:
    """The project's packages and pyproject.toml, without data files, in a scratch folder."""
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("builtin", "__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_code_keeps_its_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("model/fourm/config.py", "import search.stores"),  # model reaching up into search
        ("anyseek/db/session.py", "import migrations"),  # db reaching up into its migrations
        ("anyseek/settings.py", "import search.stores"),  # the base reaching up into search
        ("anyseek/errors.py", "import cli"),  # the base reaching up into the command line
        ("anyseek/db/repository.py", "import model.service"),  # the base reaching the model
        ("cli/search.py", "import model.bind.network"),  # the CLI bypassing model.service
        ("api/routes/search.py", "import model.families.registry"),  # bypassing model.service
        ("model/fourm/network.py", "import model.inference.predict"),  # network -> prediction
        ("model/transforms/base.py", "import model.bind.network"),  # a block reaching a model
        ("search/inputs.py", "import model.transforms.depth"),  # bypassing model.service
        ("indexer/decode.py", "from model.fourm import network"),  # bypassing model.service
        ("api/catalog.py", "import workbench.pipeline"),  # the service reaching training
        ("model/service.py", "import workbench.train"),  # the interface loading training
        ("search/searcher.py", "import workbench.train"),  # the service reaching the workbench
        ("model/bind/network.py", "import workbench.styles"),  # served code reaching training
    ],
)
def test_an_upward_import_breaks_the_contracts(tmp_path: Path, module: str, upward: str) -> None:
    root = copy_tree(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{upward}  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def _model_contracts() -> tuple[list[str], list[str]]:
    """The rooms named by the inside-model layers and by the interface contract."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layered: list[str] = []
    hidden: list[str] = []
    for contract in contracts["contracts"]:
        if contract.get("containers") == ["model"]:
            for layer in contract["layers"]:
                layered += [room.strip() for room in layer.replace(":", "|").split("|")]
        if contract["name"].startswith("Above model/"):
            hidden = [name.removeprefix("model.") for name in contract["forbidden_modules"]]
    return layered, hidden


def test_every_room_of_model_is_named_by_the_contracts() -> None:
    rooms = sorted(
        p.stem if p.is_file() else p.name
        for p in (ROOT / "model").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    )
    layered, hidden = _model_contracts()
    assert sorted(layered) == rooms, "every model/ room sits in exactly one layer"
    assert sorted([*hidden, *INTERFACE]) == rooms, (
        f"the layers above model/ may import only {', '.join(INTERFACE)}"
    )
