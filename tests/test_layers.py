"""The layering contracts in pyproject.toml hold, and an upward import breaks them."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the one import root, and the repository's folders it links to (anyseek/model -> ../model, ...)
LINKED = ("model", "search", "indexer", "api", "workers", "migrations")
PACKAGES = ("anyseek", *LINKED)
OLD_ROOTS = {*LINKED, "cli", "workbench", "scenes"}  # import names before the one root
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
            ROOT / name,
            tmp_path / name,
            ignore=shutil.ignore_patterns("weights", "__pycache__"),
            symlinks=True,  # anyseek/model stays a link to the copied model/
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_every_linked_folder_is_a_relative_link_under_the_import_root() -> None:
    for name in LINKED:
        link = ROOT / "anyseek" / name
        assert link.is_symlink() and os.readlink(link) == f"../{name}", name


def _old_root_imports(path: Path) -> list[str]:
    """``path``'s absolute imports of a name the one import root replaced (``import model``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [f"{path}:{node.lineno}: {n}" for n in names if n.split(".")[0] in OLD_ROOTS]
    return found


def test_no_code_imports_a_folder_by_its_old_top_level_name() -> None:
    """``import model`` from the repository root would load model/ a second time, as another
    module than ``anyseek.model``: every import names the one root."""
    skip = {".venv", ".venv-clip", ".git"}
    files = [
        p
        for p in ROOT.rglob("*.py")
        if not skip & set(p.relative_to(ROOT).parts) and not p.is_relative_to(ROOT / "anyseek")
    ] + list((ROOT / "anyseek").glob("*.py"))
    files += [
        p
        for name in ("cli", "scenes", "workbench", "db")
        for p in (ROOT / "anyseek" / name).rglob("*.py")
    ]
    assert len(files) > 400  # the walk did find the code
    assert [hit for path in files for hit in _old_root_imports(path)] == []


def test_the_code_keeps_its_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


CONTRACTS = [
    c["name"]
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
]
LAYERS, BASE, INSIDE_MODEL, INSIDE_FOURM, INTERFACE_ONLY, NO_WORKBENCH, NO_SCENES = CONTRACTS
UPWARD = [  # (module, the import added to it, the contract it breaks)
    (
        "model/fourm/config.py",
        "import anyseek.search.stores",
        LAYERS,
    ),  # model reaching up into search
    (
        "anyseek/db/session.py",
        "import anyseek.migrations",
        LAYERS,
    ),  # db reaching up into its migrations
    (
        "anyseek/settings.py",
        "import anyseek.search.stores",
        BASE,
    ),  # the base reaching up into search
    ("anyseek/errors.py", "import anyseek.cli", BASE),  # the base reaching up into the command line
    (
        "anyseek/db/repository.py",
        "import anyseek.model.service",
        BASE,
    ),  # the base reaching the model
    (
        "anyseek/cli/search.py",
        "import anyseek.model.builtin.network",
        INTERFACE_ONLY,
    ),  # bypassing model.service
    ("api/routes/search.py", "import anyseek.model.families.registry", INTERFACE_ONLY),
    ("search/inputs.py", "import anyseek.model.transforms.depth", INTERFACE_ONLY),
    ("indexer/decode.py", "from anyseek.model.fourm import network", INTERFACE_ONLY),
    (
        "model/transforms/base.py",
        "import anyseek.model.builtin.network",
        INSIDE_MODEL,
    ),  # block -> a model
    (
        "model/fourm/layers.py",
        "import anyseek.model.transforms.rgb",
        INSIDE_MODEL,
    ),  # 4M -> an adapter
    (
        "model/runtime/threads.py",
        "import anyseek.model.fourm.network",
        INSIDE_MODEL,
    ),  # helper -> 4M
    (
        "model/vocabulary/synonyms.py",
        "import anyseek.model.builtin.text",
        INSIDE_MODEL,
    ),  # data -> model
    ("model/fourm/network.py", "import anyseek.model.fourm.inference.predict", INSIDE_FOURM),
    ("model/fourm/tokenizers/vqvae.py", "import anyseek.model.fourm.network", INSIDE_FOURM),
    ("model/fourm/modalities.py", "import anyseek.model.fourm.loading", INSIDE_FOURM),
    (
        "api/catalog.py",
        "import anyseek.workbench.training_run",
        NO_WORKBENCH,
    ),  # the service reaching training
    (
        "model/service.py",
        "import anyseek.workbench.train",
        NO_WORKBENCH,
    ),  # the interface loading training
    ("search/searcher.py", "import anyseek.workbench.train", NO_WORKBENCH),
    (
        "model/builtin/network.py",
        "import anyseek.workbench.styles",
        NO_WORKBENCH,
    ),  # served -> training
    (
        "model/families/builtin.py",
        "import anyseek.scenes.render",
        NO_SCENES,
    ),  # served code -> the world
    ("indexer/pipeline.py", "from anyseek.scenes import generate_scene", NO_SCENES),
    (
        "model/vocabulary/classes.py",
        "import anyseek.scenes.scene",
        NO_SCENES,
    ),  # the words -> the world
]


def _broken(stdout: str) -> set[str]:
    """The contracts lint-imports reports broken (its report wraps long names over lines)."""
    text = " ".join(stdout.split())
    return {name for name in CONTRACTS if f"{' '.join(name.split())} BROKEN" in text}


@pytest.mark.parametrize(("module", "upward", "contract"), UPWARD)
def test_an_upward_import_breaks_its_contract(
    tmp_path: Path, module: str, upward: str, contract: str
) -> None:
    root = copy_tree(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{upward}  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert contract in _broken(result.stdout), result.stdout


def test_every_contract_is_broken_by_some_upward_import() -> None:
    assert {contract for _, _, contract in UPWARD} == set(CONTRACTS)


def _model_contracts() -> tuple[list[str], list[str]]:
    """The rooms named by the inside-model layers and by the interface contract."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layered: list[str] = []
    hidden: list[str] = []
    for contract in contracts["contracts"]:
        if contract.get("containers") == ["anyseek.model"]:
            for layer in contract["layers"]:
                layered += [room.strip() for room in layer.replace(":", "|").split("|")]
        if contract["name"].startswith("Above model/"):
            hidden = [name.removeprefix("anyseek.model.") for name in contract["forbidden_modules"]]
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


def _import_cycles() -> list[tuple[str, str]]:
    """Pairs of modules that import each other, directly or through others (lazy imports in a
    function count: they are imports all the same)."""
    import grimp  # import-linter's own graph builder

    graph = grimp.build_graph("anyseek", cache_dir=None)
    return sorted(
        {
            tuple(sorted((module, imported)))
            for module in graph.modules
            for imported in graph.find_modules_directly_imported_by(module)
            if graph.chain_exists(importer=imported, imported=module)
        }
    )


def test_no_module_imports_itself_back_through_others() -> None:
    assert _import_cycles() == []


def test_a_lazy_import_that_closes_a_loop_is_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: the loss moved back into train (cross -> train -> recipe -> cross)."""
    import grimp

    real = grimp.build_graph

    def with_loop(*args, **kwargs):
        graph = real(*args, **kwargs)
        graph.add_import(importer="anyseek.workbench.cross", imported="anyseek.workbench.train")
        return graph

    monkeypatch.setattr(grimp, "build_graph", with_loop)
    assert ("anyseek.workbench.cross", "anyseek.workbench.train") in _import_cycles()
