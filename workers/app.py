"""The Celery app, configured from the settings: acks late, no lost tasks, one task at a time.

One module-level app (tasks register on it at import); :func:`configure` applies the settings at
the edge that starts a worker or submits a job. Two queues: ``<queue>.index`` for chunks (any
number of workers) and ``<queue>.writer`` for applying staged vectors to a single-writer store,
``<queue>`` being ``ANYSEEK_WORKERS__QUEUE`` (default ``anyseek``). A task that reached a worker
of another deployment is forwarded to :func:`forward_queue`, which its own deployment's workers
also consume.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from anyseek.errors import ServiceUnavailableError, SettingsError
from anyseek.settings import Settings
from anyseek.workers.redis_transport import TRANSPORT as REDIS_ACK_SAFE_TRANSPORT

INDEX_QUEUE = "anyseek.index"  # the default names (ANYSEEK_WORKERS__QUEUE=anyseek)
WRITER_QUEUE = "anyseek.writer"
QUEUES = {"index": INDEX_QUEUE, "writer": WRITER_QUEUE}
#: which queue role a task goes to; the others go to the writer
ROLE_OF_TASK = {"anyseek.index_chunk": "index"}
FORWARD_PREFIX = "anyseek.forwarded"
BROKER_CHECK_TIMEOUT_S = 5
REDELIVERY_SCAN_S = 10
AMQP_HEARTBEAT_S = 60
"""RabbitMQ heartbeat: a silent link is dropped after two missed beats (about 2 minutes), so a
solo worker's chunk, which holds its heartbeats, must take well under that."""
#: Redis connections: a broker gone silent (a cut link, a host gone) fails a command after
#: ``socket_timeout`` instead of never; TCP keepalives find a dead idle connection
REDIS_TRANSPORT = {
    "socket_timeout": 30,
    "socket_connect_timeout": 10,
    "socket_keepalive": True,
    "retry_on_timeout": True,
}

app = Celery("anyseek", include=["anyseek.workers.tasks"])


def queue_names(settings: Settings) -> dict[str, str]:
    """The deployment's queues by role: ``{"index": "<queue>.index", "writer": ...}``."""
    return {role: f"{settings.workers.queue}.{role}" for role in QUEUES}


def forward_queue(deployment: str, role: str) -> str:
    """Where a task of ``deployment`` that reached another deployment's worker is sent: a queue
    named by the deployment alone, which that deployment's workers of ``role`` consume."""
    return f"{FORWARD_PREFIX}.{deployment}.{role}"


def task_role(task_name: str) -> str:
    """The queue role of a task: ``index`` for chunks, ``writer`` for store writes."""
    return ROLE_OF_TASK.get(task_name, "writer")


def celery_config(settings: Settings) -> dict[str, object]:
    """The Celery settings anyseek relies on; see docs/deploy.md for why each one is there."""
    transport: dict[str, object] = {
        "visibility_timeout": settings.indexer.visibility_timeout,
        # Redis: look for overdue unacked chunks every 10 s (kombu's default looks once every
        # 10 x 10 s, so a dead worker's chunk waited up to ~100 s past its visibility timeout)
        "unacked_restore_interval": REDELIVERY_SCAN_S,
        "unacked_restore_throttle": 1,
    }
    redis = settings.broker_url.startswith(("redis://", "rediss://"))
    if redis:
        transport |= REDIS_TRANSPORT
    max_memory_kb = settings.indexer.worker_max_memory_mb * 1024
    names = queue_names(settings)
    return {
        "broker_url": settings.broker_url,
        # Redis: kombu's transport, but a failed ack does not leave the worker deaf for good
        "broker_transport": REDIS_ACK_SAFE_TRANSPORT if redis else None,
        "result_backend": settings.result_backend or None,
        "task_ignore_result": True,  # progress lives in the database, not in results
        "task_acks_late": True,  # ack after the chunk is staged...
        "task_reject_on_worker_lost": True,  # ...and requeue it if the worker dies mid-chunk
        "worker_prefetch_multiplier": 1,  # a worker holds one unacked chunk, not four
        "broker_transport_options": transport,  # Redis: redeliver unacked after this long
        "result_backend_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # a broker back after any outage is rejoined
        "broker_heartbeat": AMQP_HEARTBEAT_S,  # RabbitMQ: a dead link is noticed, then retried
        # a chunk running when the broker link drops finishes (Celery's 5.x default, said
        # here: 6.0 flips it); staged once, its redelivery would be a no-op
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # no remote control: on Redis it is a pub/sub link the consumer reads, and redis-py
        # reconnects a closed one inside a read with no timeout, freezing the worker deaf;
        # jobs are cancelled through the database, so nothing here uses it
        "worker_enable_remote_control": False,
        "task_default_queue": names["index"],
        "task_queues": [Queue(name, routing_key=name, durable=True) for name in names.values()],
        "task_routes": {
            "anyseek.apply_pending": {"queue": names["writer"]},
            "anyseek.reindex": {"queue": names["writer"]},  # writes the store: its one writer
        },
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_max_memory_per_child": max_memory_kb or None,
        "worker_hijack_root_logger": False,
    }


def configure(settings: Settings) -> Celery:
    """Apply the settings to the app (broker required) and remember them for the tasks."""
    if not settings.broker_url:
        raise SettingsError(
            "no broker configured: set ANYSEEK_BROKER_URL (redis://... or amqp://...) to use "
            "workers, or index in-process without --workers"
        )
    app.conf.update(celery_config(settings))
    app.conf.anyseek_settings = settings
    return app


def check_broker(celery: Celery) -> None:
    """Connect to the broker and declare the queues, or raise a :class:`ServiceUnavailableError`.

    Declaring matters on RabbitMQ: a message published before any worker declared its queue would
    be dropped by the exchange.
    """
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_S)
            for queue in celery.conf.task_queues:
                queue.bind(connection.default_channel).declare()
    except Exception as error:
        raise ServiceUnavailableError(
            f"cannot reach the broker {connection_display(celery)}: {error}"
        ) from None


def connection_display(celery: Celery) -> str:
    """The broker URL with its password hidden."""
    with celery.connection_for_write() as connection:
        return connection.as_uri()
