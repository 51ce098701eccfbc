"""run_execute's edges: a run it claimed but cannot prepare ends as an error (never stuck running), and a result
that arrives after the sweep took the run for dead is dropped, not crashed on."""

import pytest

from inventory.choices import UnitState
from testbench.checks.base import CheckStatus
from testbench.choices import RunState
from testbench.models import Bench, BenchSlot
from testbench.orchestration.execution import run_execute
from testbench.runner import CardReport
from testbench.services import run_create, run_interrupt


@pytest.fixture
def slot(db):
    bench = Bench.objects.create(name="exec-bench", simulated=True)
    return BenchSlot.objects.create(bench=bench, index=0, device={})  # a slot whose device was never recorded


@pytest.mark.django_db
def test_a_claimed_run_that_cannot_be_prepared_ends_as_an_error(make_units, slot):
    (unit,) = make_units(1)
    run = run_create(unit=unit, plan="quick", slot=slot)
    run = run_execute(run.pk, worker="test")
    unit.refresh_from_db()
    slot.refresh_from_db()
    assert run.state == RunState.ERROR and "could not prepare the run" in run.end_reason
    assert unit.state == UnitState.FAILED and slot.run is None


@pytest.mark.django_db
def test_a_result_after_the_run_was_interrupted_is_dropped(make_units, slot, monkeypatch):
    import testbench.orchestration.workers

    slot.device = {"kind": "simulated", "index": 0, "slug": "geforce-rtx-3080"}
    slot.save()
    (unit,) = make_units(1)
    run = run_create(unit=unit, plan="quick", slot=slot)

    class LateProcess:
        def run(self, job, *, on_event, tick=None):
            run_interrupt(run=run, reason="no heartbeat")  # the sweep got there first
            on_event("done", job.key, CardReport(label="sim0", declared="geforce-rtx-3080",
                                                 verdict=CheckStatus.PASS))
            return True

    monkeypatch.setattr(testbench.orchestration.workers, "card_process", lambda key, simulated: LateProcess())
    run = run_execute(run.pk, worker="test")
    unit.refresh_from_db()
    assert run.state == RunState.INTERRUPTED and not run.results.exists()
    assert unit.state == UnitState.QUEUED


@pytest.mark.django_db
def test_a_card_put_on_hold_while_queued_has_its_run_cancelled(make_units, slot):
    from inventory.services import unit_transition

    (unit,) = make_units(1)
    run = run_create(unit=unit, plan="quick", slot=slot)
    unit_transition(unit=unit, to_state=UnitState.ON_HOLD, actor_label="test", reason="wrong lot")
    run = run_execute(run.pk, worker="test")
    unit.refresh_from_db()
    assert run.state == RunState.CANCELLED and "cannot start testing" in run.end_reason
    assert unit.state == UnitState.ON_HOLD


@pytest.mark.django_db
def test_one_retry_policy_a_busy_slot_is_tried_again_later_and_a_run_no_longer_queued_is_left(make_units, slot,
                                                                                                 settings):
    from testbench.orchestration.execution import RunAttempt, run_attempt
    from testbench.services import run_cancel, run_start

    settings.REFURB_SLOT_RETRY_S = 7
    first, second = make_units(2)
    busy = run_start(run=run_create(unit=first, plan="quick", slot=slot))  # holds the slot
    waiting = run_create(unit=second, plan="quick", slot=slot)
    assert run_attempt(waiting.pk, worker="test") == RunAttempt(None, retry_in_s=7)
    waiting.refresh_from_db()
    assert waiting.state == RunState.QUEUED and slot.runs.filter(state=RunState.RUNNING).get() == busy
    run_cancel(run=waiting, reason="wrong card")
    assert run_attempt(waiting.pk, worker="test") == RunAttempt(None)  # cancelled: nothing to do, no retry


def test_embedded_the_bench_task_waits_out_a_busy_slot_instead_of_an_eager_retry(settings, monkeypatch):
    # One set of retry rules (run_attempt's); embedded, the task sleeps them out in its thread, since an eager Celery
    # retry would run again at once.
    from testbench.orchestration import execution, tasks
    from testbench.orchestration.execution import RunAttempt

    settings.REFURB_EMBEDDED = True
    answers = [RunAttempt(None, retry_in_s=0.01), RunAttempt(None, retry_in_s=0.01), RunAttempt(None)]
    calls, sleeps = [], []
    monkeypatch.setattr(execution, "run_attempt", lambda run_id, worker="": calls.append(run_id) or answers.pop(0))
    monkeypatch.setattr(tasks.time, "sleep", sleeps.append)
    assert tasks.run_execute_task.apply(args=(41,)).get() == "not queued"
    assert calls == [41, 41, 41] and sleeps == [0.01, 0.01]
