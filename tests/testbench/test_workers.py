"""Card processes: one long-lived process per slot runs its jobs one after another (Python and torch loaded once),
each job ends in exactly one final event, a process that dies is reported as a crash (not a hang, not a pass) and
replaced, and a cancel stops a running check within seconds."""

import os
import time
from dataclasses import dataclass

import pytest

from testbench.hardware.discovery import DeviceSpec, simulated_specs
from testbench.orchestration.workers import CANCEL_GRACE_S, CardJob, CardProcess, card_process, stop_card_processes
from testbench.plans import SIM_TIME_FACTOR
from testbench.reference import catalog_references

pytestmark = pytest.mark.database_independent

RTX_3080 = catalog_references()["geforce-rtx-3080"]


@dataclass(frozen=True)
class DyingSpec(DeviceSpec):
    """A card whose process dies outright (a segfault in a driver, the OOM killer)."""

    def open(self):
        os._exit(9)


@dataclass(frozen=True)
class BrokenSpec(DeviceSpec):
    def open(self):
        raise RuntimeError("driver said no")


HEALTHY = simulated_specs(1, time_scale=SIM_TIME_FACTOR, models=["geforce-rtx-3080"])[0]


def job(key, spec=HEALTHY, plan="quick"):
    return CardJob(key=key, spec=spec, plan=plan, declared=RTX_3080)


def run_collecting(process, card_job, **kwargs):
    events = []
    completed = process.run(card_job, on_event=lambda kind, key, payload: events.append((kind, key, payload)),
                            **kwargs)
    return completed, events


@pytest.fixture
def process():
    card = CardProcess("test", simulated=True)
    yield card
    card.stop()


def test_a_card_process_runs_one_job_after_another_without_restarting(process):
    pid = process.process.pid
    completed, first = run_collecting(process, job(1))
    completed_again, second = run_collecting(process, job(2))
    assert completed and completed_again and process.process.pid == pid
    for key, events in ((1, first), (2, second)):
        finals = [(kind, k) for kind, k, _ in events if kind in ("done", "cancelled", "crashed")]
        assert finals == [("done", key)]  # exactly one final event, for this job
        assert events[0][0] == "started" and events[0][2]["identity"]["uuid"].startswith("GPU-")
        assert events[0][2]["software"]["torch"]
        assert str(events[-1][2].verdict) == "pass"
    # The same process (the pid above): no second interpreter start and torch import. (How much quicker the second
    # job is depends on the machine's load; benchmarks/orchestration_bench.py measures it.)
    # Progress carries a live sensor reading now and then, for the technician's screen.
    readings = [payload[3] for kind, _, payload in first if kind == "progress" and payload[3]]
    assert readings and readings[0]["gpu_temp_c"] > 20 and "throttle" in readings[0]


def test_a_process_that_dies_is_a_crash_and_the_slot_gets_a_new_one():
    try:
        dying = card_process("slot:dying", simulated=True)
        completed, events = run_collecting(dying, job(1, DyingSpec("simulated", 1)))
        assert completed and events[-1] == ("crashed", 1, "worker process exited with code 9")
        replacement = card_process("slot:dying", simulated=True)
        assert replacement is not dying and replacement.alive()
        completed, events = run_collecting(replacement, job(2))
        assert events[-1][0] == "done"
    finally:
        stop_card_processes()


def test_an_error_outside_the_checks_is_a_crash_and_the_process_carries_on(process):
    completed, events = run_collecting(process, job(1, BrokenSpec("simulated", 2)))
    kind, key, text = events[-1]
    assert (kind, key) == ("crashed", 1) and "driver said no" in text
    assert process.alive()
    assert run_collecting(process, job(2))[1][-1][0] == "done"


def test_a_cancel_stops_a_running_check_within_seconds_and_keeps_the_process(process):
    reached = []

    def on_event(kind, key, payload):
        if kind == "progress" and payload[0] == "thermal" and not reached:
            reached.append(time.monotonic())

    completed = process.run(job(1, plan="burn-in"), on_event=on_event, tick=lambda: bool(reached))
    took = time.monotonic() - reached[0]
    assert not completed and took < CANCEL_GRACE_S
    assert process.alive()  # it stopped between chunks; no kill was needed
    assert run_collecting(process, job(2))[1][-1][0] == "done"


def test_a_slot_whose_process_is_still_busy_gets_a_fresh_one():
    # Only one run is active per slot, so a busy process belongs to a run that ended without it: it goes.
    try:
        old = card_process("slot:busy", simulated=True)
        old.busy.acquire()
        fresh = card_process("slot:busy", simulated=True)
        assert fresh is not old and not old.alive() and fresh.alive()
    finally:
        stop_card_processes()
