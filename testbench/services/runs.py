"""Test runs: queue, claim, heartbeat, finish, cancel, interrupt. Each is one transaction that moves the card
through the lifecycle service, so a run and its card never disagree.

    queued ─claim─▶ running ─▶ passed | failed | error        (run_finish)
       │               ├──────▶ cancelled                     (run_cancel_request → the executor → run_cancel)
       └─cancel─▶ cancelled      └──────▶ interrupted         (run_sweep: no heartbeat)
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Now
from django.utils import timezone

from core.errors import DomainError, InvalidInput
from inventory import events
from inventory.choices import UnitState
from inventory.lifecycle import Mover
from inventory.models import Unit
from inventory.services import unit_transition

from ..choices import ACTIVE_RUN_STATES, RunState, Verdict
from ..models import Bench, BenchSlot, CheckResultRecord, RunTelemetry, TestRun
from ..orchestration.dispatch import run_send
from ..plans import PLANS

# Where a card may go when its run is cancelled.
CANCEL_TARGETS = (UnitState.QUEUED, UnitState.ON_HOLD)
# A card interrupted this many times in a row goes on hold: the bench, not the card, may be the problem, and a
# card must not bounce between dying benches forever.
INTERRUPTS_BEFORE_HOLD = 3


class RunNotQueued(DomainError):
    """The run is no longer queued: claimed already (a message delivered twice), or cancelled."""


class SlotBusy(DomainError):
    """The run's GPU slot is busy with another run; try again later."""


def _json_safe(value):
    """Evidence may hold NaN or infinities (a GEMM gone wrong); JSON columns cannot."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _release_slot(run: TestRun) -> None:
    BenchSlot.objects.filter(run=run).update(run=None)


def run_create(*, unit: Unit, plan: str, bench: Bench | None = None, slot: BenchSlot | None = None,
               device_index: int = 0, device_label: str = "", faults=(), actor=None) -> TestRun:
    """Queue a run for a card, putting the card in the queue if it is not there yet. With a slot, the run goes to
    that slot's bench. A card with a queued or running run already is refused."""
    if slot is not None:
        bench, device_index = slot.bench, slot.index
        device_label = device_label or slot.device.get("label", f"gpu{slot.index}")
        faults = faults or slot.device.get("profiles", ())
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit.pk)
        if TestRun.objects.filter(unit=locked, state__in=ACTIVE_RUN_STATES).exists():
            raise InvalidInput({"unit": [f"{locked.asset_tag} already has a queued or running test run"]})
        try:
            with transaction.atomic():
                run = TestRun.objects.create(unit=locked, plan=plan, bench=bench, slot=slot,
                                             device_index=device_index, device_label=device_label,
                                             faults=list(faults))
        except IntegrityError:  # queued by someone else between our check and our insert
            raise InvalidInput({"unit": [f"{locked.asset_tag} already has a queued or running test run"]}) from None
        if locked.state != UnitState.QUEUED:
            unit_transition(unit=locked, to_state=UnitState.QUEUED, actor=actor, reason=f"{plan} test run queued",
                            event=events.run_queued(run_id=run.pk, plan=plan))
        return run


def run_start(*, run: TestRun, identity: dict | None = None, software: dict | None = None,
              worker: str = "") -> TestRun:
    """Claim a queued run (UPDATE … WHERE state = 'queued') and its slot (… WHERE run IS NULL), and move its card
    to testing — all or nothing. A second claim of the same run raises RunNotQueued (so a redelivered message runs
    nothing); a busy slot raises SlotBusy and leaves the run queued."""
    with transaction.atomic():
        # Heartbeat times are the database's clock: the sweep compares them with the same clock, whatever the
        # bench hosts' own clocks say.
        claimed = TestRun.objects.filter(pk=run.pk, state=RunState.QUEUED).update(
            state=RunState.RUNNING, started_at=Now(), heartbeat_at=Now(), worker=worker[:128],
            identity=_json_safe(identity or {}), software=software or {})
        if not claimed:
            raise RunNotQueued(f"run {run.pk} is not queued")
        if run.slot_id and not BenchSlot.objects.filter(pk=run.slot_id, run__isnull=True).update(run=run):
            transaction.set_rollback(True)
            raise SlotBusy(f"slot {run.slot_id} is busy")
        unit_transition(unit=run.unit_id, to_state=UnitState.TESTING, actor_label=run.device_label or "bench",
                        mover=Mover.RUN,
                        reason=f"{run.plan} test run {run.pk} started" + (f" on {worker}" if worker else ""),
                        event=events.run_started(run_id=run.pk))
    run.refresh_from_db()
    return run


def run_identity_save(*, run: TestRun, identity: dict, software: dict) -> None:
    """What the card reported when its worker opened it, and the software it ran under."""
    TestRun.objects.filter(pk=run.pk).update(identity=_json_safe(identity), software=software)


def run_heartbeat(*, run: TestRun, progress: dict | None = None) -> bool:
    """A running run's sign of life (and how far it has got). Returns True if it should stop: a cancel was asked
    for, or it is no longer running (the sweep took it for dead, or it was ended by hand)."""
    changes = {"heartbeat_at": Now()}
    if progress is not None:
        changes["progress"] = _json_safe(progress)
    if not TestRun.objects.filter(pk=run.pk, state=RunState.RUNNING).update(**changes):
        return True
    return TestRun.objects.filter(pk=run.pk, cancel_requested_at__isnull=False).exists()


def run_finish(*, run: TestRun, report) -> TestRun:
    """Store a finished run's results (a runner.CardReport) and move the card to tested (pass, warn) or failed
    (fail, error). The thermal soak's telemetry columns go to RunTelemetry, not into the check's evidence."""
    verdict = str(report.verdict)
    with transaction.atomic():
        run = TestRun.objects.select_for_update().get(pk=run.pk)
        if run.state != RunState.RUNNING:
            raise RunNotQueued(f"run {run.pk} is {run.state}, not running")
        columns = {}
        records = []
        for position, result in enumerate(report.checks):
            evidence = dict(result.evidence)
            if "telemetry" in evidence:
                columns = evidence.pop("telemetry")
            records.append(CheckResultRecord(run=run, position=position, name=result.name,
                                             status=str(result.status), summary=result.summary,
                                             metrics=_json_safe(result.metrics), evidence=_json_safe(evidence),
                                             duration_s=result.duration_s,
                                             findings=_json_safe([f.as_dict() for f in result.findings])))
        CheckResultRecord.objects.bulk_create(records)
        RunTelemetry.objects.create(run=run, columns=_json_safe(columns),
                                    samples=len(columns.get("time", [])) if columns else 0)
        failing = [f"{r.name}: {r.summary}" for r in report.checks if str(r.status) in ("fail", "error")]
        run.verdict = verdict
        run.state = {Verdict.PASS: RunState.PASSED, Verdict.WARN: RunState.PASSED,
                     Verdict.FAIL: RunState.FAILED}.get(verdict, RunState.ERROR)
        run.finished_at = timezone.now()
        run.progress = {**run.progress, "fraction": 1.0, "phase": "done"}
        if run.state == RunState.ERROR:
            run.end_reason = "; ".join(failing)[:2000]
        run.save(update_fields=["verdict", "state", "finished_at", "progress", "end_reason"])
        _release_slot(run)
        unit = Unit.objects.select_for_update().get(pk=run.unit_id)
        if unit.state != UnitState.TESTING:
            # Moved by hand mid-run (put on hold, say): the results stand, the card stays where it was put.
            return run
        unit_transition(
            unit=unit,
            to_state=UnitState.TESTED if verdict in (Verdict.PASS, Verdict.WARN) else UnitState.FAILED,
            actor_label=run.device_label or "bench", mover=Mover.RUN,
            reason=f"{run.plan} test run {run.pk}: {verdict}" + (f" ({'; '.join(failing)[:500]})" if failing else ""),
            event=events.run_finished(run_id=run.pk, verdict=verdict,
                                      checks={r.name: str(r.status) for r in report.checks}),
        )
    return run


def _end(run: TestRun, state: str, reason: str, to_state: str, actor=None) -> TestRun:
    """End an active run without results (cancelled, interrupted) and move its card out of the queue or testing."""
    run.state = state
    run.finished_at = timezone.now()
    run.end_reason = reason[:2000]
    run.progress = {**run.progress, "phase": state}
    run.save(update_fields=["state", "finished_at", "end_reason", "progress"])
    _release_slot(run)
    unit = Unit.objects.select_for_update().get(pk=run.unit_id)
    if unit.state in (UnitState.TESTING, UnitState.QUEUED) and unit.state != to_state:
        unit_transition(unit=unit, to_state=to_state, actor=actor, actor_label="" if actor else "bench",
                        reason=f"test run {run.pk} {state}: {reason}",
                        event=events.run_ended(run_id=run.pk, state=state), mover=Mover.RUN)
    return run


def run_cancel_request(*, run: TestRun, to_state: str = UnitState.QUEUED, reason: str = "", actor=None) -> TestRun:
    """Cancel a run. A queued run ends at once; a running one is asked to stop — its executor sees the request
    within a second or two, stops the check between chunks and records the cancel (run_cancel)."""
    if to_state not in CANCEL_TARGETS:
        raise InvalidInput({"to": [f"a cancelled run's card goes to {' or '.join(CANCEL_TARGETS)}, not {to_state!r}"]})
    reason = (reason or "").strip() or "cancelled"
    with transaction.atomic():
        run = TestRun.objects.select_for_update().get(pk=run.pk)
        if run.state == RunState.QUEUED:
            return _end(run, RunState.CANCELLED, reason, to_state, actor)
        if run.state != RunState.RUNNING:
            raise InvalidInput({"state": [f"run {run.pk} is {run.state}; only a queued or running run can be "
                                          "cancelled"]})
        run.cancel_requested_at = timezone.now()
        run.cancel_to = to_state
        run.end_reason = reason[:2000]
        run.save(update_fields=["cancel_requested_at", "cancel_to", "end_reason"])
    return run


def run_cancel(*, run: TestRun, reason: str = "", to_state: str = "", actor=None) -> TestRun:
    """Record that a run stopped because it was cancelled; its card goes where the cancel asked (the queue by
    default)."""
    with transaction.atomic():
        run = TestRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in ACTIVE_RUN_STATES:
            raise RunNotQueued(f"run {run.pk} is {run.state}, not queued or running")
        return _end(run, RunState.CANCELLED, reason or run.end_reason or "cancelled",
                    to_state or run.cancel_to or UnitState.QUEUED, actor)


def run_interrupt(*, run: TestRun, reason: str, stale_after_s: float | None = None) -> TestRun | None:
    """A running run whose worker died: it ends `interrupted` and its card goes back to the queue — or on hold
    after INTERRUPTS_BEFORE_HOLD interruptions in a row. None if the run was no longer running (or, with
    `stale_after_s`, no longer stale: a heartbeat came in meanwhile)."""
    with transaction.atomic():
        run = TestRun.objects.select_for_update().get(pk=run.pk)
        if run.state != RunState.RUNNING:
            return None
        if stale_after_s is not None and not TestRun.objects.filter(
                pk=run.pk, heartbeat_at__lt=Now() - timedelta(seconds=stale_after_s)).exists():
            return None
        recent = list(TestRun.objects.filter(unit_id=run.unit_id).exclude(pk=run.pk)
                      .order_by("-created_at", "-id").values_list("state", flat=True)[:INTERRUPTS_BEFORE_HOLD - 1])
        in_a_row = 1 + next((i for i, s in enumerate(recent) if s != RunState.INTERRUPTED), len(recent))
        to_state = UnitState.ON_HOLD if in_a_row >= INTERRUPTS_BEFORE_HOLD else UnitState.QUEUED
        if to_state == UnitState.ON_HOLD:
            reason += f" (interrupted {in_a_row} times in a row: check the bench before retesting)"
        return _end(run, RunState.INTERRUPTED, reason, to_state)


def run_sweep(*, stale_after_s: float | None = None) -> list[TestRun]:
    """Mark running runs with no heartbeat for `stale_after_s` interrupted (a worker killed, a host gone). Safe to
    run anywhere and often: each run is re-checked under its row lock."""
    stale_after_s = settings.REFURB_RUN_STALE_AFTER_S if stale_after_s is None else stale_after_s
    cutoff = Now() - timedelta(seconds=stale_after_s)  # the database's clock, as the heartbeats are
    interrupted = []
    for run in TestRun.objects.filter(state=RunState.RUNNING, heartbeat_at__lt=cutoff).select_related("bench"):
        seen = run.heartbeat_at.isoformat(timespec="seconds")
        ended = run_interrupt(run=run, reason=f"no heartbeat from {run.worker or 'its worker'} since {seen}",
                              stale_after_s=stale_after_s)
        if ended is not None:
            interrupted.append(ended)
    return interrupted


def runs_send(runs: list[TestRun]) -> None:
    """Send each run to its bench once the transaction that queued it commits (a worker must find it). Without a
    broker, the runs execute in this process, each in a background thread with its own card process."""
    for run in runs:
        transaction.on_commit(lambda run_id=run.pk: run_send(run_id))


def runs_queue(*, units: list[Unit], plan: str, bench: Bench | None = None, actor=None) -> list[TestRun]:
    """Queue a run for each card in the slot where it is seated, and send them to their benches on commit. All or
    nothing: a card not seated (or, with `bench`, seated elsewhere), or not testable, refuses the whole request
    with every reason."""
    if plan not in PLANS:
        raise InvalidInput({"plan": [f"unknown plan {plan!r}; plans are: {', '.join(PLANS)}"]})
    errors = []
    seats = {slot.unit_id: slot for slot in BenchSlot.objects.select_related("bench").filter(unit__in=units)}
    for unit in units:
        if unit.pk not in seats:
            errors.append(f"{unit.asset_tag} is not seated in a bench slot")
        elif bench is not None and seats[unit.pk].bench_id != bench.pk:
            errors.append(f"{unit.asset_tag} is seated in {seats[unit.pk].bench.name}, not {bench.name}")
    if errors:
        raise InvalidInput({"units": errors})
    with transaction.atomic():
        runs = [run_create(unit=unit, plan=plan, slot=seats[unit.pk], actor=actor) for unit in units]
        runs_send(runs)
    return runs
