"""Test run services: starting a run moves its card to testing; finishing it stores the results and moves the card
to tested or failed, all through the lifecycle service and in one transaction each."""

from __future__ import annotations

import math

from django.db import transaction
from django.utils import timezone

from inventory.choices import UnitState
from inventory.models import Unit
from inventory.services import unit_transition

from .choices import ACTIVE_RUN_STATES, RunState, Verdict
from .models import Bench, CheckResultRecord, RunTelemetry, TestRun


def _json_safe(value):
    """Evidence may hold NaN or infinities (a GEMM gone wrong); JSON columns cannot."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def run_create(*, unit: Unit, plan: str, bench: Bench | None = None, device_index: int = 0,
               device_label: str = "", faults=(), actor=None) -> TestRun:
    """Queue a run for a card, putting the card in the queue if it is not there yet."""
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit.pk)
        if locked.state != UnitState.QUEUED:
            unit_transition(unit=locked, to_state=UnitState.QUEUED, actor=actor, reason=f"{plan} test run queued")
        return TestRun.objects.create(unit=locked, plan=plan, bench=bench, device_index=device_index,
                                      device_label=device_label, faults=list(faults))


def run_start(*, run: TestRun, identity: dict, software: dict) -> TestRun:
    """Claim a queued run and move its card to testing. The card's row lock makes a second start of the same card
    (by another bench) fail with IllegalTransition."""
    with transaction.atomic():
        claimed = TestRun.objects.filter(pk=run.pk, state=RunState.QUEUED).update(
            state=RunState.RUNNING, started_at=timezone.now(), identity=_json_safe(identity), software=software)
        if not claimed:
            raise ValueError(f"run {run.pk} is not queued")
        unit_transition(unit=run.unit_id, to_state=UnitState.TESTING, actor_label=run.device_label or "bench",
                        reason=f"{run.plan} test run {run.pk} started", payload={"run": run.pk})
    run.refresh_from_db()
    return run


def run_finish(*, run: TestRun, report) -> TestRun:
    """Store a finished run's results (a runner.CardReport) and move the card to tested (pass, warn) or failed
    (fail, error). The thermal soak's telemetry columns go to RunTelemetry, not into the check's evidence."""
    verdict = str(report.verdict)
    with transaction.atomic():
        run = TestRun.objects.select_for_update().get(pk=run.pk)
        if run.state != RunState.RUNNING:
            raise ValueError(f"run {run.pk} is {run.state}, not running")
        columns = {}
        records = []
        for position, result in enumerate(report.checks):
            evidence = dict(result.evidence)
            if "telemetry" in evidence:
                columns = evidence.pop("telemetry")
            records.append(CheckResultRecord(run=run, position=position, name=result.name,
                                             status=str(result.status), summary=result.summary,
                                             metrics=_json_safe(result.metrics), evidence=_json_safe(evidence),
                                             duration_s=result.duration_s))
        CheckResultRecord.objects.bulk_create(records)
        RunTelemetry.objects.create(run=run, columns=_json_safe(columns),
                                    samples=len(columns.get("time", [])) if columns else 0)
        run.verdict = verdict
        run.state = {Verdict.PASS: RunState.PASSED, Verdict.WARN: RunState.PASSED,
                     Verdict.FAIL: RunState.FAILED}.get(verdict, RunState.ERROR)
        run.finished_at = timezone.now()
        run.progress = {"fraction": 1.0, "phase": "done"}
        run.save(update_fields=["verdict", "state", "finished_at", "progress"])
        failing = [f"{r.name}: {r.summary}" for r in report.checks if str(r.status) in ("fail", "error")]
        unit_transition(
            unit=run.unit_id,
            to_state=UnitState.TESTED if verdict in (Verdict.PASS, Verdict.WARN) else UnitState.FAILED,
            actor_label=run.device_label or "bench",
            reason=f"{run.plan} test run {run.pk}: {verdict}" + (f" ({'; '.join(failing)[:500]})" if failing else ""),
            payload={"run": run.pk, "verdict": verdict,
                     "checks": {r.name: str(r.status) for r in report.checks}},
        )
    return run


def run_cancel(*, run: TestRun, reason: str, to_state: str = UnitState.QUEUED, actor=None) -> TestRun:
    """Stop a queued or running run: it ends `cancelled` and its card leaves testing for `to_state` (back in the
    queue, or on hold), with an event that says why."""
    with transaction.atomic():
        run = TestRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in ACTIVE_RUN_STATES:
            raise ValueError(f"run {run.pk} is {run.state}; only a queued or running run can be cancelled")
        run.state = RunState.CANCELLED
        run.finished_at = timezone.now()
        run.progress = {**run.progress, "phase": "cancelled"}
        run.save(update_fields=["state", "finished_at", "progress"])
        unit = Unit.objects.select_for_update().get(pk=run.unit_id)
        if unit.state in (UnitState.TESTING, UnitState.QUEUED) and unit.state != to_state:
            unit_transition(unit=unit, to_state=to_state, actor=actor, actor_label="" if actor else "bench",
                            reason=f"test run {run.pk} cancelled: {reason}", payload={"run": run.pk})
    return run


def run_progress_save(*, run: TestRun, progress: dict) -> None:
    """Record how far a running run has got (for the API and the admin); a no-op once the run has ended."""
    TestRun.objects.filter(pk=run.pk, state=RunState.RUNNING).update(progress=_json_safe(progress))
