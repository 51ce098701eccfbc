"""Worker processes: one per card, each job ending in exactly one final event, a dead process reported as a crash
(not a hang, not a pass), and Ctrl-C stopping running checks within seconds."""

import os
import time
from dataclasses import dataclass

import pytest

from testbench.hardware.discovery import DeviceSpec, simulated_specs
from testbench.plans import SIM_TIME_FACTOR
from testbench.reference import catalog_references
from testbench.workers import CANCEL_GRACE_S, CardJob, run_batch

pytestmark = pytest.mark.database_independent

RTX_3080 = catalog_references()["geforce-rtx-3080"]


@dataclass(frozen=True)
class DyingSpec(DeviceSpec):
    """A card whose worker process dies outright (a segfault in a driver, the OOM killer)."""

    def open(self):
        os._exit(9)


@dataclass(frozen=True)
class BrokenSpec(DeviceSpec):
    def open(self):
        raise RuntimeError("driver said no")


def jobs_for(specs, plan="quick"):
    return [CardJob(key=i, spec=spec, plan=plan, declared=RTX_3080) for i, spec in enumerate(specs)]


def collect(jobs, **kwargs):
    events = []
    completed = run_batch(jobs, on_event=lambda kind, key, payload: events.append((kind, key, payload)),
                          **{"parallel": 2, **kwargs})
    return completed, events


def final_events(events):
    return {key: (kind, payload) for kind, key, payload in events if kind not in ("started", "progress")}


def test_every_job_ends_once_and_a_dead_worker_is_a_crash():
    healthy = simulated_specs(1, time_scale=SIM_TIME_FACTOR, models=["geforce-rtx-3080"])[0]
    jobs = jobs_for([healthy, DyingSpec("simulated", 1), BrokenSpec("simulated", 2)])
    completed, events = collect(jobs)
    assert completed
    finals = [(kind, key) for kind, key, _ in events if kind not in ("started", "progress")]
    assert sorted(key for _, key in finals) == [0, 1, 2]  # exactly one final event per job
    final = final_events(events)
    assert final[0][0] == "done" and str(final[0][1].verdict) == "pass"
    assert final[1] == ("crashed", "worker process exited with code 9")
    assert final[2][0] == "crashed" and "driver said no" in final[2][1]
    progress = [payload for kind, key, payload in events if kind == "progress" and key == 0]
    assert progress[0][0] == "identity" and progress[-1] == ("health", 1.0, "done")


def test_ctrl_c_cancels_running_checks_within_seconds_and_jobs_not_started():
    # One slot, three long burn-in cards: Ctrl-C (here raised by the event handler) during the first card.
    specs = simulated_specs(3, time_scale=SIM_TIME_FACTOR)
    seen = []
    stopped_at = []

    def on_event(kind, key, payload):
        seen.append((kind, key))
        if kind == "progress" and payload[0] == "vram" and not stopped_at:
            stopped_at.append(time.monotonic())
            raise KeyboardInterrupt

    completed = run_batch(jobs_for(specs, plan="burn-in"), parallel=1, on_event=on_event)
    took = time.monotonic() - stopped_at[0]
    assert not completed
    assert took < CANCEL_GRACE_S
    finals = [(kind, key) for kind, key in seen if kind not in ("started", "progress")]
    assert sorted(finals) == [("cancelled", 0), ("cancelled", 1), ("cancelled", 2)]
