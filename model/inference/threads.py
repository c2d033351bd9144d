"""How many CPU threads one model call may use, set from the thread that will make the calls."""

from __future__ import annotations

import torch


def use_threads(threads: int) -> None:
    """Give the calling thread's model passes ``threads`` intra-op threads.

    The service runs the model on a thread of its own; there, on the 2-core machine, two intra-op
    threads made one query's pass about 2x slower than one (30-34 ms against 17 ms: a new
    OpenMP team per parallel region of a non-main thread), so the service sets this once on its
    inference thread (``ANYSEEK_API__INFERENCE_THREADS``).
    """
    torch.set_num_threads(max(1, threads))
