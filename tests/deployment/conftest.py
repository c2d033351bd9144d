"""The multi-host test bed: one per broker, shared by the fault tests; skipped where the machine
cannot make network namespaces or lacks a server (a failure under ANYSEEK_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import Cluster, Sizes
from faults import CI_CASES, Fault
from netns import why_not_available
from services import why_missing
from workload import make_images

REQUIRED = os.environ.get("ANYSEEK_REQUIRE_SERVICES") == "1"
#: CI's size: short outages, small jobs (bench/deployment.py runs the full size)
#: the broker of CI's load-only run (bench/deployment.py runs it on both)
LOAD_BROKER = "redis"
CI_SIZES = Sizes(images=240, chunk=12, outage_s=6.0, disk_mb=64, visibility_s=8)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only CI's (broker, fault) runs of the fault matrix (``faults.CI_CASES``) and the
    load-only run on ``LOAD_BROKER`` (every fault run has the same 16 clients on both brokers)."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        fault, broker = params.get("fault"), params.get("bed")
        if broker is None:
            kept.append(item)
        elif isinstance(fault, Fault):
            (kept if (broker, fault.name) in CI_CASES else dropped).append(item)
        elif "sixteen_clients" in item.name:
            (kept if broker == LOAD_BROKER else dropped).append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def bed_images() -> Iterator[Path]:
    """The generated images every fault run indexes (a folder the servers' users can read)."""
    reason = why_not_available() or why_missing()
    if reason is not None:  # as tests/conftest.py's require(): CI must have the bed
        message = f"no multi-host test bed here: {reason}"
        pytest.fail(f"{message} (ANYSEEK_REQUIRE_SERVICES=1)") if REQUIRED else pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="anyseek-bed-images-"))
    os.chmod(folder, 0o755)
    make_images(folder / "images", CI_SIZES.images)
    yield folder / "images"
    for path in (folder / "images").iterdir():
        path.unlink()
    (folder / "images").rmdir()
    folder.rmdir()


@pytest.fixture(scope="module", params=["redis", "rabbitmq"])
def bed(request: pytest.FixtureRequest, bed_images: Path) -> Iterator[Cluster]:
    """Five hosts (db, mq, api, w1, w2) with the broker of the parameter."""
    cluster = Cluster(request.param, CI_SIZES, bed_images)
    try:
        yield cluster
    finally:
        cluster.close()
