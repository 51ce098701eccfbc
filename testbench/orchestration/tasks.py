"""Celery tasks of the test bench. They take ids, never model instances, and are sent on commit (runs_send)."""

from __future__ import annotations

from celery import shared_task

# The tasks import what they run inside their bodies (HackSoft's rule): the services send these tasks, so a
# module-level import here would close the loop services → dispatch → tasks → execution → services.


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def run_execute_task(self, run_id: int) -> str:
    """Run a queued run on this bench host. Acknowledged only when done, so a worker killed mid-run leaves the
    message to be redelivered — and the redelivery finds the run claimed and does nothing (the sweep interrupts it)."""
    from .execution import run_attempt

    attempt = run_attempt(run_id, worker=self.request.hostname or "")
    if attempt.retry_in_s is not None:
        raise self.retry(countdown=attempt.retry_in_s)
    return attempt.run.state if attempt.run else "not queued"


@shared_task(ignore_result=True)
def runs_sweep_task() -> int:
    """Interrupt running runs whose worker stopped sending heartbeats (beat schedules this; bench workers also run
    it between heartbeats, so a warehouse without beat still sweeps)."""
    from ..services import run_sweep

    return len(run_sweep())
