"""kombu's Redis transport, but a delivery whose ack fails is forgotten: the worker keeps listening.

kombu 5.7's Redis QoS removes a delivery from Redis' unacked index first and from its own count of
held deliveries second; when Redis is down at that moment (a restart, a cut link) the first step
raises, Celery logs ``Couldn't ack`` and goes on, and the delivery stays counted for good. With
``worker_prefetch_multiplier = 1`` that count is the whole window, so the transport never asks
Redis for another message: the worker stays connected, idle and deaf while its queue grows.

Here the delivery is forgotten whatever the ack's outcome. Nothing is lost: the message is still
in Redis' unacked hash (unless Redis lost it with everything else), and the visibility timeout
hands it out again, as for a worker that died mid-task; anyseek's tasks are safe to run twice.
The error is raised on, so Celery still logs the failed ack.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kombu.transport import redis, virtual


class QoS(redis.QoS):
    """Redis ack emulation that frees the prefetch window even when the ack cannot reach Redis."""

    @contextmanager
    def _forgotten_on_failure(self, delivery_tag: str) -> Iterator[None]:
        """Forget ``delivery_tag`` here if the block fails (Redis redelivers it later), then
        raise on."""
        try:
            yield
        except Exception:
            virtual.QoS.ack(self, delivery_tag)
            raise

    def ack(self, delivery_tag: str) -> None:
        """Remove the delivery from Redis' unacked index and forget it, even if Redis is away."""
        with self._forgotten_on_failure(delivery_tag):
            super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        """Requeue or drop the delivery in Redis and forget it, even if Redis is away."""
        with self._forgotten_on_failure(delivery_tag):
            super().reject(delivery_tag, requeue=requeue)


class Channel(redis.Channel):
    """A Redis channel whose deliveries are counted by :class:`QoS`."""

    QoS = QoS


class Transport(redis.Transport):
    """The Redis transport anyseek's workers use: kombu's, with :class:`Channel`."""

    Channel = Channel


TRANSPORT = f"{__name__}:Transport"
"""The ``broker_transport`` setting that selects it."""
