"""How many CPU threads one model call may use, set from the thread that will make the calls."""

from __future__ import annotations

import torch

_DEFAULT = torch.get_num_threads()  # read at import, before any thread is set to fewer


def default_threads() -> int:
    """What torch gives a thread by default in this process (its cores, or OMP_NUM_THREADS)."""
    return _DEFAULT


def use_threads(threads: int) -> None:
    """Give the calling thread's model passes ``threads`` intra-op threads.

    OpenMP keeps a team of threads per thread that ran a parallel region, and an idle team slows
    another's work: on the 2-core machine, a pass on 2 threads from a thread other than the one
    that had loaded the model took 17-24 ms against 10 ms. So the service loads and runs the
    model on one thread set up with this (``ANYSEEK_API__INFERENCE_THREADS``), and gives every
    other thread one.
    """
    torch.set_num_threads(max(1, threads))
