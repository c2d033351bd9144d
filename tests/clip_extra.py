"""Whether open_clip (the clip extra) imports here, told once: the open_clip tests run where it
does (``make test-clip``) and the tests of its absence where it does not (``make test``)."""

from __future__ import annotations


def open_clip_installed() -> bool:
    """True when the open_clip package imports (a folder named open_clip on sys.path is not it)."""
    try:
        import open_clip
    except ImportError:
        return False
    return hasattr(open_clip, "create_model")
