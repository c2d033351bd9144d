"""Shared test fixtures: service availability, the conformance fixtures, fresh or migrated
settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from ports import port_open
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

REQUIRE_SERVICES = os.environ.get("ANYSEEK_REQUIRE_SERVICES") == "1"


#: ``make test`` runs the suite on two pytest-xdist workers (``TEST_WORKERS=2``, ``loadgroup``):
#: tests that share one fixed resource are grouped, and a group runs on one worker in turn. The
#: brokers' test queues (Redis database 15, RabbitMQ's ``/`` vhost) are purged by the tests that
#: use them; the five-host bed (tests/deployment) is one per broker for its whole module and too
#: heavy to run beside itself.
SHARED_GROUPS = {"redis_url": "brokers", "amqp_url": "brokers", "bed": "five-host-bed"}


def shared_group(item: pytest.Item) -> str | None:
    """The group of the shared resource a test uses (as a fixture or a parameter naming one);
    a doc page's examples share one group, as each runs in the folder the page's earlier ones
    left (tests/docs/test_docs_examples.py)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    example = params.get("example")
    if item.path.name == "test_docs_examples.py" and example is not None:
        return f"doc-page:{example.source.split(':')[0]}"
    named = [
        *getattr(item, "fixturenames", ()),
        *(v for v in params.values() if isinstance(v, str)),
    ]
    return next((SHARED_GROUPS[name] for name in named if name in SHARED_GROUPS), None)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test that shares a fixed resource with its xdist group (see SHARED_GROUPS)."""
    for item in items:
        group = shared_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            if getattr(config.option, "loadgroup", False):  # an xdist worker under loadgroup
                _report_group(item, group)


def _report_group(item: pytest.Item, group: str) -> None:
    """Give ``item``'s nodeid the ``@group`` suffix by which xdist's loadgroup sends a group to one
    worker. pytest-xdist adds it by setting ``item._nodeid``, which pytest 9 no longer reads (its
    nodeid comes from ``item._id``): there every group was silently split over both workers, and
    broker tests on two workers at once purged and took each other's tasks."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # pytest 8: xdist's own hook adds the suffix
        return
    if not item.nodeid.endswith(f"@{group}"):
        item._id = NodeId.parse(f"{item.nodeid}@{group}")


def require(available: bool, reason: str) -> None:
    """Skip when something external is absent; fail instead when CI demands it."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (ANYSEEK_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def search_model():
    """The built-in search model, loaded once for the whole run (search, API, indexing tests)."""
    from anyseek.model.families.registry import load_search_model

    return load_search_model("builtin", device="cpu", precision="float32")  # whatever the CPU


@pytest.fixture(scope="session")
def fourm_fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 4M conformance fixtures (tests/fixtures/fourm) with every checkpoint layout."""
    from fixture_layouts import assemble_fourm

    return assemble_fourm(tmp_path_factory.mktemp("fourm_fixtures"))


@pytest.fixture(scope="session")
def multimae_fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MultiMAE conformance fixtures (tests/fixtures/multimae) with every checkpoint layout."""
    from fixture_layouts import assemble_multimae

    return assemble_multimae(tmp_path_factory.mktemp("multimae_fixtures"))


@pytest.fixture(scope="session")
def inputs(fourm_fixtures: Path) -> dict:
    """The conformance fixtures' input tensors (``inputs.safetensors``), loaded once."""
    from safetensors.torch import load_file

    return load_file(fourm_fixtures / "inputs.safetensors")


@pytest.fixture(scope="session")
def expected(fourm_fixtures: Path) -> dict:
    """The reference implementation's outputs for those inputs (``expected.safetensors``)."""
    from safetensors.torch import load_file

    return load_file(fourm_fixtures / "expected.safetensors")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the PostgreSQL test database (127.0.0.1:5432, trust auth, database ``test``)."""
    url = os.environ.get(
        "ANYSEEK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    require(port_open("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432")
    return url


@contextmanager
def schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh PostgreSQL schema, dropped at the end."""
    schema = f"anyseek_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    # A non-UTC session time zone proves timestamps are normalised whatever the server's setting.
    options = f"-csearch_path={schema} -ctimezone=America/New_York"
    url = make_url(postgres_url).update_query_dict({"options": options})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh PostgreSQL schema, dropped after the test (every
    PostgreSQL test gets its own, so tests never see each other's rows)."""
    with schema_url(postgres_url) as url:
        yield url


@pytest.fixture
def other_schema_url(postgres_url: str) -> Iterator[str]:
    """A second fresh schema, for a test of two deployments (two databases) side by side."""
    with schema_url(postgres_url) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the Redis test server (``ANYSEEK_TEST_REDIS_URL`` names another database, so that
    people testing on one machine at once do not share queues)."""
    require(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    return os.environ.get("ANYSEEK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """URL of the RabbitMQ test broker (``ANYSEEK_TEST_AMQP_URL`` names another vhost, so that
    people testing on one machine at once do not share queues)."""
    require(port_open("127.0.0.1", 5672), "RabbitMQ is not running on 127.0.0.1:5672")
    return os.environ.get("ANYSEEK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings isolated from the developer's environment, with a fresh data directory."""
    from anyseek.settings import load_settings

    for key in list(os.environ):
        if key.startswith("ANYSEEK_") and key != "ANYSEEK_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
def ready_settings(settings):
    """Settings whose SQLite database is migrated to the newest schema."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for

    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    return settings


@pytest.fixture
def pg_cluster() -> Iterator:
    """A started PostgreSQL cluster of the test's own (``tests/pg_cluster.py``) that the test may
    stop, start and restart; removed afterwards."""
    from pg_cluster import PostgresCluster, unavailable

    reason = unavailable()
    require(reason is None, reason or "")
    with PostgresCluster() as cluster:
        cluster.start()
        yield cluster


SMALL_DISK_MB = 8


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a tmpfs of ``SMALL_DISK_MB`` MiB of the test's own (``tests/small_disk.py``:
    ``fill`` makes it full, ``free`` gives the room back); unmounted afterwards."""
    from small_disk import MountRefused
    from small_disk import small_disk as mounted

    try:
        with mounted(tmp_path / "small-disk", SMALL_DISK_MB) as folder:
            yield folder
    except MountRefused as refused:
        require(False, str(refused))


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator:
    """A started Redis server of the test's own (``tests/redis_server.py``) that the test may
    stop and start again; stopped afterwards."""
    from redis_server import RedisServer, unavailable

    reason = unavailable()
    require(reason is None, reason or "")
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()
