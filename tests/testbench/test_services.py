"""Recording runs: a finished simulated run stores one result per check and its telemetry as columns, and moves
the card to tested or failed through the lifecycle, with events that say why."""

import json

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import InvalidInput
from inventory.choices import UnitState
from inventory.errors import IllegalTransition
from inventory.services import unit_transition
from testbench.choices import RunState
from testbench.hardware.faults import build_fault_plan
from testbench.hardware.simulated import SimulatedDevice
from testbench.models import Bench, BenchSlot, CheckResultRecord, RunTelemetry, TestRun
from testbench.plans import SIM_TIME_FACTOR, plan_for
from testbench.reference import catalog_references
from testbench.runner import run_plan
from testbench.services import RunNotQueued, SlotBusy, run_create, run_finish, run_start


def simulated_report(profile: str, seed: int = 0):
    device = SimulatedDevice(seed=seed, time_scale=SIM_TIME_FACTOR, memory_bytes=32 * 2**20,
                             faults=build_fault_plan([profile], seed=seed, memory_bytes=32 * 2**20))
    report = run_plan(device, declared=catalog_references()["geforce-rtx-3080"],
                      plan=plan_for("quick", simulated=True))
    return device, report


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # A bench runs each simulated card on one CPU thread (steady timings for the performance check).
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def bench(db):
    return Bench.objects.create(name="bench-sim", simulated=True)


@pytest.fixture
def inspected_unit(make_units):
    unit = make_units(1)[0]
    unit_transition(unit=unit, to_state=UnitState.INSPECTED, reason="looked fine")
    return unit


@pytest.mark.django_db
@pytest.mark.parametrize("profile, unit_state, run_state", [
    ("healthy", UnitState.TESTED, RunState.PASSED),
    ("vram_stuck_bit", UnitState.FAILED, RunState.FAILED),
])
def test_a_finished_run_is_stored_and_moves_the_card(inspected_unit, bench, profile, unit_state, run_state):
    unit = inspected_unit
    device, report = simulated_report(profile)
    run = run_create(unit=unit, plan="quick", bench=bench, device_label=device.label, faults=[profile])
    unit.refresh_from_db()
    assert unit.state == UnitState.QUEUED
    run_start(run=run, identity=device.identity().as_dict(), software={"torch": "test"})
    unit.refresh_from_db()
    assert unit.state == UnitState.TESTING

    run = run_finish(run=run, report=report)
    unit.refresh_from_db()
    assert (unit.state, run.state, run.verdict) == (unit_state, run_state, str(report.verdict))
    results = list(CheckResultRecord.objects.filter(run=run).values_list("name", "status"))
    assert [name for name, _ in results] == list(plan_for("quick"))
    telemetry = RunTelemetry.objects.get(run=run)
    assert telemetry.samples > 10 and len(telemetry.columns["gpu_temp_c"]) == telemetry.samples
    assert "telemetry" not in CheckResultRecord.objects.get(run=run, name="thermal").evidence
    last = unit.events.order_by("id").last()
    assert (last.from_state, last.to_state) == ("testing", unit_state)
    assert last.payload["run"] == run.pk and last.payload["checks"]["vram"] == dict(results)["vram"]
    if profile != "healthy":
        assert "vram:" in last.reason


@pytest.mark.django_db
def test_nan_evidence_from_a_corrupt_gemm_is_stored(inspected_unit, bench):
    unit = inspected_unit
    device, report = simulated_report("compute_sdc", seed=2)
    run = run_create(unit=unit, plan="quick", bench=bench)
    run_start(run=run, identity=device.identity().as_dict(), software={})
    run_finish(run=run, report=report)
    stored = CheckResultRecord.objects.get(run=run, name="compute")
    assert stored.status == "fail"
    json.dumps(stored.evidence, allow_nan=False)


@pytest.mark.django_db
def test_a_card_has_one_active_run_and_a_run_is_claimed_once(inspected_unit, bench):
    unit = inspected_unit
    first = run_create(unit=unit, plan="quick", bench=bench)
    with pytest.raises(InvalidInput, match="already has a queued or running test run"):
        run_create(unit=unit, plan="quick", bench=bench)
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database refuses it too
        TestRun.objects.create(unit=unit, plan="quick", bench=bench)
    run_start(run=first, identity={}, software={}, worker="bench-1@host")
    with pytest.raises(RunNotQueued, match="not queued"):  # a message delivered twice
        run_start(run=first, identity={}, software={})
    first.refresh_from_db()
    assert first.state == RunState.RUNNING and first.worker == "bench-1@host" and first.heartbeat_at


@pytest.mark.django_db
def test_a_slot_runs_one_run_at_a_time(make_units, bench):
    slot = BenchSlot.objects.create(bench=bench, index=0, device={"kind": "simulated", "index": 0})
    a, b = make_units(2)
    run_a, run_b = (run_create(unit=u, plan="quick", slot=slot) for u in (a, b))
    assert run_a.bench == bench and run_a.device_index == 0
    run_start(run=run_a)
    with pytest.raises(SlotBusy):
        run_start(run=run_b)
    run_b.refresh_from_db()
    b.refresh_from_db()
    assert run_b.state == RunState.QUEUED and b.state == UnitState.QUEUED  # the failed claim left nothing behind
    slot.refresh_from_db()
    assert slot.run == run_a


@pytest.mark.django_db
def test_a_scrapped_card_cannot_be_queued(make_units, bench):
    unit = make_units(1)[0]
    unit_transition(unit=unit, to_state=UnitState.SCRAPPED, actor_label="test", reason="cracked PCB")
    with pytest.raises(IllegalTransition, match="cannot move a unit from 'scrapped' to 'queued'"):
        run_create(unit=unit, plan="quick", bench=bench)
    assert not unit.test_runs.exists()


@pytest.mark.django_db
def test_heartbeats_and_the_sweep_use_the_database_clock_and_a_dead_run_is_told_to_stop(make_units, bench):
    from django.db.models.functions import Now

    from testbench.services import run_heartbeat, run_interrupt, run_sweep

    slot = BenchSlot.objects.create(bench=bench, index=0, device={"kind": "simulated", "index": 0})
    (unit,) = make_units(1)
    run = run_start(run=run_create(unit=unit, plan="quick", slot=slot), worker="w@host")
    assert run_heartbeat(run=run, progress={"check": "vram"}) is False  # alive, no cancel asked
    assert run_sweep(stale_after_s=30) == []
    # A heartbeat that lands between the sweep's query and its lock keeps the run alive.
    assert run_interrupt(run=run, reason="x", stale_after_s=30) is None
    TestRun.objects.filter(pk=run.pk).update(heartbeat_at=Now() - timezone.timedelta(seconds=31))
    (swept,) = run_sweep(stale_after_s=30)
    assert swept.state == RunState.INTERRUPTED and "no heartbeat from w@host" in swept.end_reason
    slot.refresh_from_db()
    assert slot.run is None
    assert run_heartbeat(run=run) is True  # its executor, if alive after all, learns to stop


@pytest.mark.django_db
def test_a_card_under_test_is_not_moved_by_hand_its_run_is_cancelled(make_units, bench):
    from testbench.services import run_cancel_request

    unit = make_units(1)[0]
    run = run_start(run=run_create(unit=unit, plan="quick", bench=bench))
    for to_state, reason in ((UnitState.ON_HOLD, "customer dispute"), (UnitState.QUEUED, ""),
                             (UnitState.TESTED, ""), (UnitState.FAILED, "")):
        with pytest.raises(IllegalTransition, match="only the run service makes this move"):
            unit_transition(unit=unit, to_state=to_state, actor_label="test", reason=reason)
    run_cancel_request(run=run, to_state=UnitState.ON_HOLD, reason="customer dispute")
    _, report = simulated_report("healthy")
    run = run_finish(run=run, report=report)  # the run ended before its executor saw the cancel: results stand
    unit.refresh_from_db()
    assert run.state == RunState.PASSED and run.results.count() == len(report.checks)
    assert unit.state == UnitState.TESTED


@pytest.mark.django_db
def test_a_slot_with_a_queued_run_cannot_be_reseated(make_units, bench):
    from testbench.services import BenchRefused, slot_seat

    slot = BenchSlot.objects.create(bench=bench, index=0, device={"kind": "simulated", "index": 0})
    first, second = make_units(2)
    slot_seat(slot=slot, unit=first)
    run_create(unit=first, plan="quick", slot=slot)
    with pytest.raises(BenchRefused, match="queued or running"):
        slot_seat(slot=slot, unit=second)
