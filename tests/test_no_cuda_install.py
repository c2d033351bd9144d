"""``make test`` brings no CUDA libraries to a machine without a GPU: no extra asks for torchvision
(whose PyPI wheels pin PyPI's CUDA ``torch``) or an ``nvidia-*`` package, nothing the test extras
install pulls one in, and the venv's torch is the CPU build when ``nvidia-smi`` is absent."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
TEST_EXTRAS = re.search(
    r'^\$\(TEST_STAMP\):.*\n.*pip install -q -e "\.\[([a-z,]+)\]"',
    (ROOT / "Makefile").read_text(),
    re.MULTILINE,
)
"""The extras ``make test`` installs, as the Makefile's test stamp names them."""
NOT_ON_A_CPU = "torchvision or nvidia-*"


def _cuda_bound(name: str) -> bool:
    """Whether a distribution brings (or pins a torch that brings) the CUDA libraries."""
    name = canonicalize_name(name)
    return name == "torchvision" or name.startswith("nvidia-")


def _requirements(extra: str) -> list[Requirement]:
    """An extra's requirements as pyproject.toml lists them, the extras it includes expanded."""
    out = []
    for line in PROJECT["optional-dependencies"][extra]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == "anyseek":
            out += [r for inner in sorted(requirement.extras) for r in _requirements(inner)]
        else:
            out.append(requirement)
    return out


@pytest.mark.parametrize("extra", sorted(PROJECT["optional-dependencies"]))
def test_no_extra_asks_for_cuda_libraries(extra: str) -> None:
    asked = [str(r) for r in _requirements(extra) if _cuda_bound(r.name)]
    assert not asked, f"[{extra}] requires {asked}: {NOT_ON_A_CPU} pulls a CUDA torch"


def test_nothing_the_test_extras_install_pulls_in_cuda_libraries() -> None:
    """Every distribution reachable from ``anyseek[<make test's extras>]`` in this venv; torch's
    own requirements are left to the next test (a GPU machine's torch rightly has nvidia-*)."""
    assert TEST_EXTRAS is not None, "the Makefile's test stamp no longer installs '.[extras]'"
    extras = set(TEST_EXTRAS[1].split(","))
    pending: list[tuple[str, frozenset[str]]] = [("anyseek", frozenset(extras))]
    visited: set[tuple[str, frozenset[str]]] = set()
    seen: dict[str, str] = {"anyseek": ""}  # distribution -> the one that first required it
    while pending:
        name, wanted = pending.pop()
        if name == "torch" or (name, wanted) in visited:
            continue
        visited.add((name, wanted))
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            env = [{"extra": e} for e in wanted] or [{"extra": ""}]
            marker = requirement.marker
            if marker is not None and not any(marker.evaluate(e) for e in env):
                continue
            found = canonicalize_name(requirement.name)
            seen.setdefault(found, name)
            try:
                importlib.metadata.distribution(found)
            except importlib.metadata.PackageNotFoundError:
                continue  # not installed here, so it brought nothing
            pending.append((found, frozenset(requirement.extras)))
    assert {"numba", "pyarrow", "pytest"} <= set(seen), "the walk missed the test extras"
    bound = {n: by for n, by in seen.items() if _cuda_bound(n)}
    assert not bound, f"{NOT_ON_A_CPU} pulled in (name: required by): {bound}"


def test_torch_is_the_cpu_build_without_a_gpu() -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("nvidia-smi is here: a GPU machine rightly gets PyTorch's CUDA build")
    import torch

    assert torch.version.cuda is None, (
        f"torch {torch.__version__} is a CUDA {torch.version.cuda} build on a machine without "
        "nvidia-smi: `make` installs the CPU build first (TORCH_CPU in the Makefile)"
    )
