"""A task's last try says what happens next, or what to do: the docs' manual step, in the log."""

from __future__ import annotations

import logging

import pytest

from anyseek.workers.tasks import GAVE_UP_APPLY, apply_staged, waiting


@pytest.mark.parametrize(("retries", "level"), [(3, logging.WARNING), (20, logging.ERROR)])
def test_the_last_retry_says_what_to_do(caplog, retries: int, level: int) -> None:
    apply_staged.push_request(retries=retries)
    try:
        with caplog.at_level(logging.WARNING, logger="anyseek.workers.tasks"):
            waiting(
                apply_staged, "the staged vectors of 'photos'", OSError("disk full"), GAVE_UP_APPLY
            )
    finally:
        apply_staged.pop_request()
    [record] = caplog.records
    assert record.levelno == level
    if level == logging.ERROR:
        assert (
            "gave up on the staged vectors of 'photos' after 21 tries: disk full" in record.message
        )
        assert "the watchdog sends the apply again" in record.message
    else:
        assert record.message == "retrying the staged vectors of 'photos' (try 4 of 20): disk full"
