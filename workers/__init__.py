"""Celery workers for indexing at scale: the app (``app``), tasks (``tasks``), submission."""
