"""Simulated cards for the check tests: small memories and a fast clock so a whole check runs in well under a
second, with the fault plan built from the named profiles."""

import pytest

from testbench.hardware.faults import build_fault_plan
from testbench.hardware.simulated import SimulatedDevice

SIM_MEMORY = 4 * 2**20
SEEDS = range(20)


@pytest.fixture
def make_device():
    def make(*profiles, seed=0, slug="geforce-rtx-3080", memory_bytes=SIM_MEMORY, time_scale=100.0, **kwargs):
        plan = build_fault_plan(list(profiles) or ["healthy"], seed=seed, memory_bytes=memory_bytes)
        return SimulatedDevice(slug=slug, seed=seed, faults=plan, memory_bytes=memory_bytes, time_scale=time_scale,
                               **kwargs)

    return make


@pytest.fixture(autouse=True)
def no_card_process_outlives_its_test(monkeypatch):
    """A run executed in the background keeps its slot's card process for the next run (keep_process): stop it
    when the test ends, so that no torch process or leftover job reaches into a later test's database. NVML's
    per-process state (a fake NVML initialised, a missing library noted) goes back to what it was, too."""
    from testbench.hardware import nvml

    monkeypatch.setattr(nvml, "_init_count", nvml._init_count)
    monkeypatch.setattr(nvml, "nvml_unavailable_reason", nvml.nvml_unavailable_reason)
    yield
    from testbench.orchestration.workers import stop_card_processes

    stop_card_processes()
