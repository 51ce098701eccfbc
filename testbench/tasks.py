"""Celery tasks of the test bench. They take ids, never model instances, and are sent on commit (runs_dispatch)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from .execution import run_execute
from .services import RunNotQueued, SlotBusy, run_sweep


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def run_execute_task(self, run_id: int) -> str:
    """Run a queued run on this bench host. Acknowledged only when done, so a worker killed mid-run leaves the
    message to be redelivered — and the redelivery finds the run claimed and does nothing (the sweep interrupts it)."""
    try:
        run = run_execute(run_id, worker=self.request.hostname or "")
    except RunNotQueued:
        return "not queued"
    except SlotBusy as exc:
        raise self.retry(countdown=settings.REFURB_SLOT_RETRY_S, exc=exc) from None
    return run.state


@shared_task(ignore_result=True)
def runs_sweep_task() -> int:
    """Interrupt running runs whose worker stopped sending heartbeats (beat schedules this; bench workers also run
    it between heartbeats, so a warehouse without beat still sweeps)."""
    return len(run_sweep())
