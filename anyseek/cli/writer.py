"""Commands that write the store do it as its one writer, or through the process that is.

A FAISS folder has one writer. A command that writes vectors (``reindex``, ``collections
rollback``, ``index``) first claims it, before it changes anything. When a running ``anyseek
serve`` holds it, the change goes to that server over its API; when the Celery writer worker holds
it, a re-index goes to the worker's queue; otherwise the command is refused with what to do. The
holder is read from the note the writer leaves in the lock file
(``anyseek.search.stores.writer_lock``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from anyseek.cli.remote import refused_detail
from anyseek.errors import ServiceUnavailableError, SettingsError
from anyseek.settings import Settings

if TYPE_CHECKING:  # the store modules load numpy and FAISS: only when a writing command runs
    from anyseek.search.stores import VectorStore
    from anyseek.search.stores.writer_lock import WriterBusyError

POLL_S = 0.5  # how often a command following a job on the server asks for its progress
FINISHED = ("succeeded", "partial", "failed", "cancelled")


def claim_store(settings: Settings) -> VectorStore:
    """The store, with this process as its writer: a ``WriterBusyError`` naming the holder when
    another process writes it, raised before the command changed anything."""
    from anyseek.search.stores import open_store

    store = open_store(settings)
    try:
        store.claim_writer()
    except BaseException:
        store.close()
        raise
    return store


def held_by_worker(busy: WriterBusyError) -> bool:
    """Whether the Celery writer worker holds the writer (re-indexes can be queued for it)."""
    from anyseek.search.stores.writer_lock import WORKER

    return busy.holder is not None and busy.holder.role == WORKER


def refusal(busy: WriterBusyError, command: str, advice: str = "") -> SettingsError:
    """The one-line refusal: who holds the writer of which folder, and what to do instead."""
    who = busy.holder.describe() if busy.holder else "another process"
    ways = f"{advice + ', or ' if advice else ''}stop it and run `anyseek {command}` again"
    return SettingsError(f"{who} holds the writer of {busy.folder}: nothing changed; {ways}")


class ServerWriter:
    """The running server that holds the writer, reached over its API with this side's key."""

    def __init__(self, settings: Settings, busy: WriterBusyError, command: str) -> None:
        from anyseek.search.stores.writer_lock import SERVER

        holder = busy.holder
        if holder is None or holder.role != SERVER or not holder.url:
            raise refusal(busy, command) from None
        self.url, self.who = holder.url.rstrip("/"), holder.describe()
        keys = settings.api.api_keys
        self.headers = {"X-API-Key": keys[0].get_secret_value()} if keys else {}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The server's JSON answer; its own message (one line) when it refuses."""
        import httpx

        try:
            response = httpx.request(
                method, f"{self.url}{path}", json=body, headers=self.headers, timeout=60
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                f"{self.who} holds the writer but does not answer ({exc}); nothing changed"
            ) from None
        if response.status_code >= 400:
            raise SettingsError(f"the server at {self.url} refused it: {refused_detail(response)}")
        return response.json()

    def follow(self, job: dict[str, Any], progress: Any) -> dict[str, Any]:
        """Poll a job the server runs until it finishes, reporting (done, total); its last state."""
        while job["status"] not in FINISHED:
            progress(job["done"], job["total"])
            time.sleep(POLL_S)
            job = self.call("GET", f"/v1/jobs/{job['id']}")
        progress(job["done"], job["total"])
        return job
