"""``pip install anyseek`` puts one import name in site-packages: the wheel installs into a fresh
venv beside a user's own package named ``api`` and module named ``model``, ``anyseek demo`` runs
from it, and the user's two names still import as the user's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLIENT_FOLDERS = ("api", "indexer", "migrations", "model", "search", "workers")
#: the environment without what points Python at this checkout (``PYTHONPATH=.`` of a bench run)
BARE = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL", "ANYSEEK_"))}


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``args`` run to its end; the test fails with its output unless it exits 0."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel .`` builds from this checkout (no network: this venv's setuptools)."""
    source = tmp_path_factory.mktemp("source")  # a copy, so the build leaves no build/ here
    tracked = _run(
        ["git", "ls-files", "-z", "anyseek", *CLIENT_FOLDERS, "pyproject.toml", "README.md"],
        cwd=ROOT,
    ).stdout.split("\0")
    for name in filter(None, tracked):  # what git holds: no scratch file another test writes
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():
            (source / name).symlink_to(os.readlink(ROOT / name))
        else:
            shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(source)]
    )  # fmt: skip
    (built,) = out.glob("anyseek-*.whl")
    return built


def test_the_wheel_has_one_top_level_name_and_the_client_folders_inside_it(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"anyseek"}
    top_level = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    if top_level:  # setuptools writes it; other backends may not
        assert zipfile.ZipFile(wheel).read(top_level[0]).decode().split() == ["anyseek"]
    for folder in CLIENT_FOLDERS:  # the repository's top-level folders, mapped under the root
        assert f"anyseek/{folder}/__init__.py" in names, folder
    assert "anyseek/model/builtin/weights/model.safetensors" in names  # the built-in model ships


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo_beside_a_users_api_and_model(
    wheel: Path, tmp_path: Path
) -> None:
    """The wheel alone, in a venv that sees this venv's dependencies but not this checkout."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            env=BARE,
        ).stdout.strip()
    )
    # the dependencies: this venv's site-packages as a plain path (its .pth files, among them the
    # editable install of this checkout, are not processed), so nothing is downloaded
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # without the test run's PYTHONPATH: pip would see this checkout's egg-info on it, call
    # anyseek installed already and leave the venv without it
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
          str(wheel)], env=BARE)  # fmt: skip

    user = tmp_path / "project"  # the user's own project: a package `api`, a module `model`
    (user / "api").mkdir(parents=True)
    (user / "api" / "__init__.py").write_text("OWNER = 'the user'\n")
    (user / "model.py").write_text("OWNER = 'the user'\n")
    # a user's plain shell: nothing of this test run's environment (other tests' settings,
    # caches or paths) reaches the installed package
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(user),
        "ANYSEEK_DATA_DIR": str(tmp_path / "data"),
    }
    outside = tmp_path  # not the checkout: nothing of it is on the path

    demo = _run(
        [str(env_dir / "bin" / "anyseek"), "demo", "--no-serve", "--n", "50"], cwd=outside, env=env
    )
    assert "50" in demo.stdout + demo.stderr

    check = (
        "import api, model, anyseek, anyseek.api.app, anyseek.model.service\n"
        "assert api.OWNER == model.OWNER == 'the user', (api.__file__, model.__file__)\n"
        f"assert anyseek.__file__.startswith({str(site)!r}), anyseek.__file__\n"
        f"assert anyseek.model.service.__file__.startswith({str(site)!r})\n"
        "print('ok')\n"
    )
    assert _run([str(python), "-c", check], cwd=outside, env=env).stdout.strip() == "ok"
