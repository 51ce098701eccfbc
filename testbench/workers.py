"""A batch of cards at once on this host: one worker process per card, reporting progress and results through a
queue. No database here: the caller (testbench.batch) turns the events into records.

Why processes: each GPU gets its own CUDA context and Python interpreter, so a hung or crashed driver call takes one
card down, not the batch; a simulated card computes on one CPU thread in its own process. Processes are spawned, not
forked, because torch's thread pools and CUDA do not survive a fork.

Events, as (kind, key, payload): ("started", key, identity dict) once the card is open, ("progress", key,
(check, fraction, phase)), ("done", key, CardReport), ("cancelled", key, None), ("crashed", key, text). Every job
ends with exactly one of the last three.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from .checks.base import Cancelled, CheckResult, CheckStatus
from .hardware.base import DeviceLost
from .hardware.discovery import DeviceSpec
from .reference import ModelReference

CANCEL_GRACE_S = 5.0  # a cancelled check stops between chunks, well within this
EXIT_GRACE_S = 2.0  # time for a finished worker's last message to arrive


@dataclass(frozen=True)
class CardJob:
    key: int
    spec: DeviceSpec
    plan: str
    declared: ModelReference
    fleet: dict | None = None
    fleet_cards: int = 0


def _die_with_parent() -> None:
    """Linux: a card's process is killed when its parent dies (a worker SIGKILLed), so no orphan keeps loading a
    GPU that another bench host's rerun is about to use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def work(job: CardJob, events, cancel) -> None:
    """A worker process: open the card, run the plan, send the report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it cancels through `cancel`
    _die_with_parent()
    from .plans import plan_for
    from .runner import CardReport, run_plan

    simulated = job.spec.kind == "simulated"
    if simulated:
        import torch

        torch.set_num_threads(1)  # a simulated card computes on one CPU thread: cards share the cores fairly
    device = None
    try:
        device = job.spec.open()
        events.put(("started", job.key, device.identity().as_dict()))
        report = run_plan(device, declared=job.declared, plan=plan_for(job.plan, simulated=simulated),
                          progress=lambda check, fraction, phase: events.put(
                              ("progress", job.key, (check, fraction, phase))),
                          cancelled=cancel.is_set, fleet=job.fleet, fleet_cards=job.fleet_cards)
        report.faults = list(job.spec.profiles)
        events.put(("done", job.key, report))
    except Cancelled:
        events.put(("cancelled", job.key, None))
    except DeviceLost as exc:
        report = CardReport(label=job.spec.label, declared=job.declared.slug, verdict=CheckStatus.ERROR,
                            checks=[CheckResult("open", CheckStatus.ERROR, f"device lost: {exc.detail}")],
                            faults=list(job.spec.profiles))
        events.put(("done", job.key, report))
    except Exception:  # a bug or a driver failure outside any check: this card errors, the others carry on
        events.put(("crashed", job.key, traceback.format_exc(limit=8)))
    finally:
        if device is not None:
            device.close()


def run_batch(jobs: list[CardJob], *, parallel: int, on_event: Callable[[str, int, object], None],
              tick: Callable[[], bool] | None = None, poll_s: float = 0.2) -> bool:
    """Run every job, at most `parallel` at once, calling `on_event` in this process for each event, and `tick`
    (heartbeats; True asks to cancel) between events. A cancel — from `tick`, or Ctrl-C in the main thread —
    stops running checks between chunks (a worker that does not stop within CANCEL_GRACE_S is terminated) and
    reports jobs not started as cancelled. Returns False if cancelled."""
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    cancel = context.Event()
    waiting = list(jobs)
    running: dict[int, multiprocessing.process.BaseProcess] = {}
    ended: set[int] = set()

    def deliver(kind: str, key: int, payload) -> None:
        if key in ended:
            return
        if kind not in ("started", "progress"):
            ended.add(key)
        on_event(kind, key, payload)

    def receive(timeout: float) -> bool:
        try:
            kind, key, payload = events.get(timeout=timeout)
        except queue.Empty:
            return False
        deliver(kind, key, payload)
        return True

    def reap() -> None:
        for key, process in list(running.items()):
            if key in ended:
                process.join(timeout=EXIT_GRACE_S)
                running.pop(key)
            elif not process.is_alive():
                # Its last message may still be in the pipe; a worker that died without one crashed.
                deadline = time.monotonic() + EXIT_GRACE_S
                while key not in ended and time.monotonic() < deadline and receive(0.1):
                    pass
                if key not in ended:
                    deliver("crashed", key, f"worker process exited with code {process.exitcode}")
                running.pop(key)

    def cancel_all() -> None:
        cancel.set()
        for job in waiting:
            deliver("cancelled", job.key, None)
        waiting.clear()

    def stop_stragglers() -> None:
        for key, process in list(running.items()):
            if process.is_alive():
                process.terminate()
            process.join(timeout=EXIT_GRACE_S)
            deliver("cancelled", key, None)
            running.pop(key)

    cancelled_at = None
    try:
        while waiting or running:
            if cancelled_at is None and tick is not None and tick():
                cancel_all()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                stop_stragglers()
                continue
            while waiting and len(running) < parallel:
                job = waiting.pop(0)
                process = context.Process(target=work, args=(job, events, cancel), name=f"refurb-{job.spec.label}",
                                          daemon=True)
                process.start()
                running[job.key] = process
            receive(poll_s)
            reap()
        return cancelled_at is None
    except KeyboardInterrupt:
        cancel_all()
        deadline = time.monotonic() + CANCEL_GRACE_S
        while any(key not in ended for key in running) and time.monotonic() < deadline:
            receive(0.1)
        reap()
        stop_stragglers()
        return False
