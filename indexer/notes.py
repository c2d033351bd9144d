"""Warnings raised while one item is decoded become that item's logged notes, not console noise.

Pillow warns about a photo's damaged metadata ("Corrupt EXIF data", "Tag data larger than file")
and decodes it anyway; printed, each is a line on the console with no file named, and once per
place only. While :func:`noted` is active in a thread, every warning raised in that thread is
collected for the item instead (decoding runs in a thread pool, and ``warnings.catch_warnings``
is not thread-safe, so one process-wide hook sends each warning to its thread's collector), then
logged with the item's name by :func:`log_notes`. Outside :func:`noted`, warnings go where they
went before.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)
_local = threading.local()
_install_lock = threading.Lock()


def _install() -> None:
    """Put the hook in front of ``warnings.showwarning``, and let Pillow's warnings through each
    time (not once per place), so every item gets its own note. Checked at every item: whoever
    saved and restored ``showwarning`` meanwhile (``warnings.catch_warnings``, a test runner)
    took the hook away with it."""
    with _install_lock:
        if getattr(warnings.showwarning, "_item_notes", False):
            return
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            collected = getattr(_local, "notes", None)
            if collected is None:
                shown(message, category, filename, lineno, file, line)
            else:
                collected.append(" ".join(str(message).split()))

        show._item_notes = True  # type: ignore[attr-defined]
        warnings.showwarning = show
        warnings.filterwarnings("always", module=r"PIL\.")


@contextmanager
def noted() -> Iterator[list[str]]:
    """Collect the warnings this thread raises inside the block (one line each)."""
    _install()
    collected: list[str] = []
    outer = getattr(_local, "notes", None)
    _local.notes = collected
    try:
        yield collected
    finally:
        _local.notes = outer


def log_notes(item: str, notes: list[str]) -> None:
    """Log an item's notes, each naming the item (INFO: the item was indexed all the same)."""
    for note in dict.fromkeys(notes):
        log.info("%s: %s", item, note)
