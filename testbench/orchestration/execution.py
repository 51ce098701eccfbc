"""Executing one queued run: claim it and its GPU slot, run its card in a worker process, store what the card shows.

The Celery task (`tasks.run_execute_task`) on a bench host's worker and the embedded mode's threads (`dispatch`)
both call `run_attempt`, so a run's records, events and retries are the same however it was sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from inventory.errors import IllegalTransition

from ..checks.base import CheckStatus, error_result
from ..choices import RunState
from ..hardware.discovery import DeviceSpec
from ..models import TestRun
from ..plans import plan_for
from ..reference import reference_from_model
from ..selectors import fleet_baseline
from ..services import RunNotQueued, SlotBusy, run_cancel, run_finish, run_heartbeat, run_identity_save, run_start

log = logging.getLogger(__name__)

ProgressHook = Callable[[str, dict], None]  # (event, {"check", "phase", "fraction", …})
DB_RETRY_DELAYS_S = (0.5, 1, 2, 4, 8, 15)  # storing a result outlasts a database restart of about half a minute


def _with_db_retry(action: Callable[[], object], what: str):
    """Run a database action, retrying with a fresh connection while the database is away: a card's results
    are worth waiting for."""
    for delay in (*DB_RETRY_DELAYS_S, None):
        try:
            return action()
        except (OperationalError, InterfaceError) as exc:  # the connection, not the data
            if delay is None:
                raise
            log.warning("%s failed (%s); retrying in %s s", what, exc, delay)
            connection.close()
            time.sleep(delay)


def device_spec_for(run: TestRun) -> DeviceSpec:
    """How the run's worker opens its card: the slot's recorded device."""
    if run.slot is None or not run.slot.device:
        raise ValueError(f"run {run.pk} has no GPU slot to run on")
    fields = {k: v for k, v in run.slot.device.items() if k in DeviceSpec.__dataclass_fields__}
    fields["profiles"] = tuple(fields.get("profiles", ()))
    return DeviceSpec(**fields)


@dataclass(frozen=True)
class RunAttempt:
    """What one attempt to execute a queued run came to: the run it executed, or when to try again."""

    run: TestRun | None  # None: nothing was executed
    retry_in_s: float | None = None  # set when the run's slot was busy


def run_attempt(run_id: int, *, worker: str = "") -> RunAttempt:
    """One attempt to execute a queued run, under the retry rules that the Celery task and the embedded mode share:
    a busy slot is tried again after REFURB_SLOT_RETRY_S; a run no longer queued (claimed already by a message
    delivered twice, or cancelled) is left alone."""
    try:
        return RunAttempt(run_execute(run_id, worker=worker))
    except SlotBusy:
        return RunAttempt(None, retry_in_s=settings.REFURB_SLOT_RETRY_S)
    except RunNotQueued:
        return RunAttempt(None)


def run_execute(run_id: int, *, worker: str = "", cancel: threading.Event | None = None,
                on_progress: ProgressHook | None = None, keep_process: bool = True) -> TestRun:
    """Claim run `run_id` and run it to its end. Raises RunNotQueued if it was claimed or cancelled already (a
    message delivered twice runs once) and SlotBusy if its slot is busy. A cancel requested through the run
    (API, admin) or through `cancel` stops it between chunks of work, and so does the run ending elsewhere (the
    sweep took it for dead). The card's process stays up for the slot's next run unless `keep_process` is False."""
    from .workers import CardJob, card_process

    run = TestRun.objects.select_related("unit__gpu_model", "slot", "bench").get(pk=run_id)
    if cancel is not None and cancel.is_set() and run.state == RunState.QUEUED:
        return run_cancel(run=run, reason="stopped at the bench before it started")
    try:
        run = run_start(run=run, worker=worker)
    except IllegalTransition as exc:  # the card was moved by hand (on hold, back to inspection) while queued
        return run_cancel(run=run, reason=f"the card cannot start testing: {exc}")
    on_progress = on_progress or (lambda event, info: None)
    process = None
    try:
        simulated = run.bench.simulated if run.bench else False
        try:
            checks = list(plan_for(run.plan, simulated=simulated))
            fleet, cards = fleet_baseline(gpu_model_id=run.unit.gpu_model_id, simulated=simulated)
            job = CardJob(key=run.pk, spec=device_spec_for(run), plan=run.plan,
                          declared=reference_from_model(run.unit.gpu_model), fleet=fleet, fleet_cards=cards)
        except Exception as exc:  # claimed but cannot be run: an error result, not a run left running
            _record_error(run, f"could not prepare the run: {type(exc).__name__}: {exc}", on_progress)
            run.refresh_from_db()
            return run
        interval = settings.REFURB_RUN_HEARTBEAT_S
        state = {"beat": time.monotonic(), "stop": False, "ended_elsewhere": False,
                 "progress": {"check": "", "phase": "starting", "fraction": 0.0}}

        def tick() -> bool:
            now = time.monotonic()
            if now - state["beat"] >= interval:
                state["beat"] = now
                try:
                    state["stop"] = run_heartbeat(run=run, progress=state["progress"]) or state["stop"]
                except DatabaseError as exc:  # the database is away: the card runs on, the next beat retries
                    log.warning("heartbeat of run %s failed (%s)", run.pk, exc)
                    connection.close()
            return state["stop"] or (cancel is not None and cancel.is_set())

        def on_event(kind: str, key: int, payload) -> None:
            if kind == "started":
                _with_db_retry(lambda: run_identity_save(run=run, identity=payload["identity"],
                                                         software=payload["software"]),
                               f"recording run {run.pk}'s identity")
                on_progress("started", state["progress"])
            elif kind == "progress":
                check, fraction, phase, telemetry = payload
                overall = (checks.index(check) + fraction) / len(checks) if check in checks else 0.0
                state["progress"] = {"check": check, "phase": phase, "fraction": round(overall, 3),
                                     "telemetry": telemetry or state["progress"].get("telemetry")}
                on_progress("progress", state["progress"])
            elif kind == "done":
                if _stored(lambda: run_finish(run=run, report=payload), run):
                    on_progress("finished", {"report": payload})
            elif kind == "cancelled":
                if _stored(lambda: run_cancel(run=run, reason="" if state["stop"] else "stopped at the bench"),
                           run):
                    on_progress("finished", {"cancelled": True})
            else:  # crashed: the process died or hit a bug outside the checks; the card is not shown healthy
                error = str(payload).strip().splitlines()[-1] if payload else "worker crashed"
                _record_error(run, error, on_progress, traceback=str(payload))

        process = card_process(f"slot:{run.slot_id}", simulated=job.spec.kind == "simulated")
        process.run(job, on_event=on_event, tick=tick)
    except BaseException as exc:  # the bench itself failed mid-run: stop the card, record what is known, re-raise
        if process is not None:
            process.stop()
        try:
            _record_error(run, f"the bench failed during the run: {type(exc).__name__}: {exc}", on_progress)
        except Exception:  # the database may be what failed; the sweep will interrupt the run then
            log.exception("run %s: could not record the bench's failure", run.pk)
        raise
    finally:
        if process is not None and not keep_process:
            process.stop()
    run.refresh_from_db()
    return run


def _stored(store: Callable[[], object], run: TestRun) -> bool:
    """Store a run's end, retrying while the database is away; False if the run had already been ended elsewhere
    (the sweep took it for dead)."""
    try:
        _with_db_retry(store, f"storing run {run.pk}'s end")
        return True
    except RunNotQueued as exc:
        log.warning("run %s ended elsewhere before its result could be stored: %s", run.pk, exc)
        return False


def _record_error(run: TestRun, error: str, on_progress: ProgressHook, traceback: str = "") -> None:
    from ..runner import CardReport

    report = CardReport(label=run.device_label, declared=run.unit.gpu_model.slug, verdict=CheckStatus.ERROR,
                        checks=[error_result("worker", "check.error", error,
                                             {"traceback": traceback} if traceback else {})],
                        faults=list(run.faults))
    if _stored(lambda: run_finish(run=run, report=report), run):
        on_progress("finished", {"report": report, "error": error})
