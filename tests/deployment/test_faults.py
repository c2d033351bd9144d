"""Every fault of the catalogue during a bulk job and 16 search clients: each image indexed exactly
once, the job's state true, no 5xx, no hang, recovery unattended (CI makes the runs of
``faults.CI_CASES``: each fault on one broker, the broker's restart on both; the load-only run
on ``conftest.LOAD_BROKER``; bench/deployment.py runs them all on both brokers)."""

from __future__ import annotations

import pytest
from cluster import Cluster
from faults import BY_NAME, CI_CASES, FAULTS, Fault, run_fault, run_load

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


def test_ci_makes_every_fault_on_a_broker_the_bed_has() -> None:
    assert {name for _, name in CI_CASES} == set(BY_NAME)
    assert {broker for broker, _ in CI_CASES} == {"redis", "rabbitmq"}


def test_sixteen_clients_beside_indexing_harm_no_good_query(bed: Cluster) -> None:
    result = run_load(bed, f"load-{bed.broker_kind}", bed.sizes.images, seconds=15)
    failure = f"{result}\n{bed.log_tails()}"
    assert result.outcome.exactly_once, failure
    seen = result.overall
    assert seen.five_xx == seen.hangs == seen.harmed == seen.hostile_bad == 0, failure
    assert seen.answered == seen.good > 100, failure
    assert seen.p50_ms is not None and seen.p99_ms is not None
