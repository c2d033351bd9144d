"""Every fault of the catalogue, on Redis and on RabbitMQ, during a bulk job and 16 search clients:
each image indexed exactly once, the job's state true, no 5xx, no hang, recovery unattended."""

from __future__ import annotations

import pytest
from cluster import Cluster
from faults import FAULTS, Fault, run_fault, run_load

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_a_fault_loses_and_duplicates_nothing(bed: Cluster, fault: Fault) -> None:
    result = run_fault(bed, fault, f"{fault.name}-{bed.broker_kind}", bed.sizes.images)
    failure = f"{result}\n{bed.log_tails()}"
    assert result.outcome.exactly_once, failure
    assert result.outcome.lost == result.outcome.duplicated == 0, failure
    assert result.recovery_s is not None, f"no recovery without a manual step\n{failure}"
    seen = result.overall
    assert seen.five_xx == seen.hangs == seen.harmed == seen.hostile_bad == 0, failure
    assert seen.answered > 0, failure


def test_sixteen_clients_beside_indexing_harm_no_good_query(bed: Cluster) -> None:
    result = run_load(bed, f"load-{bed.broker_kind}", bed.sizes.images, seconds=15)
    failure = f"{result}\n{bed.log_tails()}"
    assert result.outcome.exactly_once, failure
    seen = result.overall
    assert seen.five_xx == seen.hangs == seen.harmed == seen.hostile_bad == 0, failure
    assert seen.answered == seen.good > 100, failure
    assert seen.p50_ms is not None and seen.p99_ms is not None
