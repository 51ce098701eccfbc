"""Grading fixtures: simulated run reports per fault profile, and cards tested from them. (Each test's own signing
key and media folder: tests/conftest.py.)"""

import pytest

from grading.services import unit_grade
from inventory.services import inspection_record
from testbench.hardware.faults import PROFILES, build_fault_plan
from testbench.hardware.simulated import SimulatedDevice
from testbench.models import Bench, BenchSlot
from testbench.plans import SIM_TIME_FACTOR, plan_for
from testbench.reference import catalog_references
from testbench.runner import run_plan
from testbench.services import run_create, run_finish, run_start, slot_seat


@pytest.fixture(scope="session")
def reports():
    """One simulated quick run per fault profile, shared by the tests (they only read the reports)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    for profile in PROFILES:
        memory = 32 * 2**20
        device = SimulatedDevice(seed=3, time_scale=SIM_TIME_FACTOR, memory_bytes=memory,
                                 faults=build_fault_plan([profile], seed=3, memory_bytes=memory))
        out[profile] = run_plan(device, declared=catalog_references()["geforce-rtx-3080"],
                                plan=plan_for("quick", simulated=True))
    torch.set_num_threads(threads)
    return out


def make_tested_unit(make_units, report, lot="G1", cosmetic="A", slots=0):
    """A card tested from `report`. With `slots`, tested in that many different slots one after the other (each
    earlier run graded, which sends a card whose link may be the slot's fault back to the queue): what confirms a
    finding that may be the bench's."""
    (unit,) = make_units(1, lot=lot)
    if cosmetic:
        inspection_record(unit=unit, cosmetic_grade=cosmetic, fan_condition="ok")
    bench, _ = Bench.objects.get_or_create(name="grading-bench", defaults={"simulated": True})
    if not slots:
        run = run_start(run=run_create(unit=unit, plan="quick", bench=bench), identity=report.identity, software={})
        run_finish(run=run, report=report)
        unit.refresh_from_db()
        return unit
    for index in range(slots):
        if index:
            unit_grade(unit=unit)
        slot, _ = BenchSlot.objects.get_or_create(bench=bench, index=index)
        slot_seat(slot=slot, unit=unit)
        run = run_start(run=run_create(unit=unit, plan="quick", slot=slot), identity=report.identity, software={})
        run_finish(run=run, report=report)
        unit.refresh_from_db()
    return unit
