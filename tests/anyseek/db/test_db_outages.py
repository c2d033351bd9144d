"""A PostgreSQL server that stops, restarts or goes silent (a cluster of the test's own): every
session says so in one line (a ``ServiceUnavailableError``, which the API answers with 503), the
same ``Database`` works again once the server is back, and no connection waits forever."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text

from anyseek.db import session as db_session
from anyseek.db.session import POSTGRES_TCP, database_from_url
from anyseek.errors import ServiceUnavailableError

pytestmark = pytest.mark.integration
TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


def _one(database) -> int:
    with database.session() as session:
        return session.execute(text("SELECT 1")).scalar_one()


def test_connections_carry_keepalives_and_a_tcp_user_timeout(pg_cluster) -> None:
    database = database_from_url(pg_cluster.url)
    with database.engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        parameters = driver.info.get_parameters()
        with socket.socket(fileno=driver.pgconn.socket) as sock:
            try:
                user_timeout = sock.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT)
                keepalive = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            finally:
                sock.detach()  # the driver's socket: looked at, not closed
    database.dispose()
    assert {k: parameters[k] for k in POSTGRES_TCP} == {k: str(v) for k, v in POSTGRES_TCP.items()}
    assert user_timeout == POSTGRES_TCP["tcp_user_timeout"] and keepalive == 1
    assert parameters["connect_timeout"] == "10"

    own = database_from_url(f"{pg_cluster.url}?tcp_user_timeout=5000&keepalives_idle=3")
    with own.engine.connect() as connection:
        parameters = connection.connection.dbapi_connection.info.get_parameters()
    own.dispose()
    assert parameters["tcp_user_timeout"] == "5000" and parameters["keepalives_idle"] == "3"


def test_a_stopped_and_restarted_server_is_unavailable_then_used_again(pg_cluster) -> None:
    database = database_from_url(pg_cluster.url)
    assert _one(database) == 1
    pg_cluster.stop()
    with pytest.raises(ServiceUnavailableError, match="cannot connect to the database"):
        _one(database)
    pg_cluster.start()
    assert _one(database) == 1  # the pool's dead connections are replaced, no restart
    lost = pytest.raises(ServiceUnavailableError, match=r"lost the connection.*terminating")
    with lost, database.session() as session:  # a server restarted under an open transaction
        session.execute(text("SELECT 1"))
        pg_cluster.restart()
        session.execute(text("SELECT 1"))
    assert _one(database) == 1
    database.dispose()


def test_a_connection_closed_under_a_session_is_unavailable(pg_cluster) -> None:
    database = database_from_url(pg_cluster.url)
    closed = pytest.raises(ServiceUnavailableError, match="the connection is closed")
    with closed, database.session() as session:
        session.execute(text("SELECT 1"))
        session.connection().connection.dbapi_connection.close()
        session.execute(text("SELECT 1"))
    assert _one(database) == 1
    database.dispose()


def test_a_bad_statement_is_not_an_outage(pg_cluster) -> None:
    database = database_from_url(pg_cluster.url)
    with pytest.raises(Exception, match="no_such_table") as raised, database.session() as session:
        session.execute(text("SELECT * FROM no_such_table"))
    assert not isinstance(raised.value, ServiceUnavailableError)
    database.dispose()


def test_an_exhausted_pool_is_unavailable_not_a_hang(
    pg_cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "POOL_TIMEOUT_S", 0.5)
    database = database_from_url(pg_cluster.url)
    held = [database.engine.connect() for _ in range(15)]  # the pool's 5 and its 10 overflow
    try:
        with pytest.raises(ServiceUnavailableError, match=r"no connection .* came free"):
            _one(database)
    finally:
        for connection in held:
            connection.close()
    assert _one(database) == 1
    database.dispose()
