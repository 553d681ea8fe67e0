"""A service process tunes the cycle collector once it has started (`service.collector`)."""

from __future__ import annotations

from diko_shared.service import collector
from harness.processes import ServiceProcess


def test_a_started_service_keeps_its_start_up_out_of_the_collector(testsvc: ServiceProcess) -> None:
    assert testsvc.metric("diko_gc_threshold", generation="0") == collector.YOUNG
    assert testsvc.metric("diko_gc_threshold", generation="1") == 10
    # Modules, models, the catalogue and the connections: tens of thousands of objects.
    assert testsvc.metric("diko_gc_frozen_objects") > 10_000


def test_a_service_reports_its_process_and_collections(testsvc: ServiceProcess) -> None:
    assert testsvc.metric("process_resident_memory_bytes") > 10_000_000
    assert testsvc.metric("process_cpu_seconds_total") > 0
    assert testsvc.metric("python_gc_collections_total", generation="2") >= 1
