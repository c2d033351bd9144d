"""A worker whose ack fails because Redis is away (a restart while it held its one message) hears
the next message once Redis is back: kombu's own Redis transport kept counting the delivery, and
with one message prefetched it never asked Redis again (the multi-host bed's writer, deaf with 15
applies queued)."""

from __future__ import annotations

import time

import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.message import Message
from redis_server import RedisServer

from anyseek.workers.app import REDIS_TRANSPORT
from anyseek.workers.redis_transport import TRANSPORT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
QUEUE = Queue("acks", Exchange("acks", type="direct"), routing_key="acks")
HEARD_WITHIN_S = 30


def _connection(url: str, transport: str | None) -> Connection:
    options = {**REDIS_TRANSPORT, "visibility_timeout": 3600}
    return Connection(url, transport=transport, transport_options=options)


def _send(url: str, body: str) -> None:
    with Connection(url) as connection:
        Producer(connection).publish(body, exchange=QUEUE.exchange, routing_key="acks",
                                     declare=[QUEUE], retry=True)  # fmt: skip


def _next(connection: Connection, got: list[Message], seconds: float) -> bool:
    """Whether a new message arrives within ``seconds``."""
    had = len(got)
    deadline = time.monotonic() + seconds
    while len(got) == had and time.monotonic() < deadline:
        try:
            connection.drain_events(timeout=1)
        except TimeoutError:
            continue
    return len(got) > had


def _consuming(connection: Connection, got: list[Message]) -> Consumer:
    """A consumer holding one message at a time (worker_prefetch_multiplier = 1, one process)."""
    consumer = Consumer(connection, [QUEUE], callbacks=[lambda _b, m: got.append(m)])
    consumer.qos(prefetch_count=1)
    return consumer


def _fail_an_ack(own_redis: RedisServer, transport: str | None) -> tuple[bool, bool]:
    """Hold one message, stop Redis, ack it (which fails), start Redis, send another: whether
    the window is free after the failed ack, and whether the second message is heard, the
    consumer reconnecting on a connection error as Celery's does."""
    got: list[Message] = []
    _send(own_redis.url, "first")
    with (
        _connection(own_redis.url, transport) as connection,
        _consuming(connection, got) as consumer,
    ):
        assert _next(connection, got, HEARD_WITHIN_S), "the first message never came"
        own_redis.stop()
        with pytest.raises(connection.connection_errors):
            got[0].ack()  # Celery logs "Couldn't ack" and goes on
        free = consumer.channel.qos.can_consume()
        own_redis.start()
        _send(own_redis.url, "second")
        try:
            return free, _next(connection, got, HEARD_WITHIN_S)
        except connection.connection_errors:
            pass  # it noticed Redis had gone: Celery starts its consumer again
    with _connection(own_redis.url, transport) as connection, _consuming(connection, got):
        return free, _next(connection, got, HEARD_WITHIN_S)


def test_a_failed_ack_leaves_the_worker_listening(own_redis: RedisServer) -> None:
    free, heard = _fail_an_ack(own_redis, TRANSPORT)
    assert free, "the failed ack still holds the only prefetch slot"
    assert heard, f"the message sent after Redis came back was not heard in {HEARD_WITHIN_S} s"


def test_kombu_s_own_transport_goes_deaf_which_is_why_workers_use_ours(
    own_redis: RedisServer,
) -> None:
    """If kombu fixes this, the test fails and anyseek's transport can go."""
    free, heard = _fail_an_ack(own_redis, None)
    assert not free and not heard
