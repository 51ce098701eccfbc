"""Celery routing: a run goes to the queue of the bench where its card is seated (`bench.<name>`). Named in
settings.CELERY_TASK_ROUTES, so call sites only say `run_execute_task.delay(run_id)`."""

from __future__ import annotations

RUN_TASK = "testbench.orchestration.tasks.run_execute_task"


def route_task(name, args, kwargs, options, task=None, **kw):
    if name != RUN_TASK:
        return None
    from ..models import TestRun

    run_id = args[0] if args else kwargs["run_id"]
    bench = TestRun.objects.filter(pk=run_id).values_list("bench__name", flat=True).first()
    return {"queue": f"bench.{bench}"} if bench else None
