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
