"""Card processes: one long-lived process per GPU slot, which runs that slot's runs one after another and reports
progress and results through a queue. No database here: the caller (execution.py) turns events into records.

Why a process per card: each GPU gets its own CUDA context and interpreter, so a hung or crashed driver call takes
one card down, not the bench; a simulated card computes on one CPU thread of its own. Why long-lived: starting
Python and importing torch costs seconds, and a GPU's CUDA context most of one — paid once per slot, not per run.
Processes are spawned, not forked, because torch's thread pools and CUDA do not survive a fork.

Events, as (kind, key, payload): ("started", key, {"identity", "software"}) once the card is open, ("progress", key,
(check, fraction, phase, telemetry)) where telemetry is the latest sensor reading (at most one a second, else
None), ("done", key, CardReport), ("cancelled", key, None), ("crashed", key, text). Every job ends with exactly one
of the last three.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from ..checks.base import Cancelled, CheckStatus, error_result
from ..hardware.base import DeviceLost, throttle_names
from ..hardware.discovery import DeviceSpec
from ..reference import ModelReference

TELEMETRY_EVERY_S = 1.0  # a live sensor reading rides along with progress this often
LIVE_SENSORS = ("gpu_temp_c", "hotspot_temp_c", "memory_temp_c", "power_w", "power_limit_w", "sm_clock_mhz",
                "fan_speeds_pct", "utilization_gpu_pct", "pcie_generation", "pcie_width")
CANCEL_GRACE_S = 5.0  # a cancelled check stops between chunks, well within this; past it the process is killed
EXIT_GRACE_S = 2.0  # time for a dead process's last message to arrive

FINAL_EVENTS = frozenset({"done", "cancelled", "crashed"})
EventHandler = Callable[[str, int, object], None]


@dataclass(frozen=True)
class CardJob:
    key: int
    spec: DeviceSpec
    plan: str
    declared: ModelReference
    fleet: dict | None = None
    fleet_cards: int = 0


def _die_with_parent() -> None:
    """Linux: a card's process is killed when the thread that started it dies (a worker SIGKILLed), so no orphan
    keeps loading a GPU that another bench host's rerun is about to use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def software_versions(identity: dict) -> dict:
    """What the run ran under (read here, in the card's process: web and bench-run processes never load torch)."""
    from importlib.metadata import version

    import torch

    return {"refurb": version("refurb"), "torch": torch.__version__, "cuda": torch.version.cuda,
            "driver": identity.get("driver_version"), "cuda_driver": identity.get("cuda_version")}


def work(job: CardJob, events, cancel) -> None:
    """One job in a card process: open the card, run the plan, send the report."""
    from ..plans import plan_for
    from ..runner import CardReport, run_plan

    simulated = job.spec.kind == "simulated"
    device = None
    read_at = [0.0]

    def progress(check: str, fraction: float, phase: str) -> None:
        sample = None
        if time.monotonic() - read_at[0] >= TELEMETRY_EVERY_S:
            read_at[0] = time.monotonic()
            try:
                reading = device.telemetry()
                sample = {key: value for key, value in reading.as_dict().items() if key in LIVE_SENSORS}
                sample["throttle"] = throttle_names(reading.throttle_reasons)
            except DeviceLost:
                pass  # the check finds out for itself, and says so in its result
        events.put(("progress", job.key, (check, fraction, phase, sample)))

    try:
        device = job.spec.open()
        identity = device.identity().as_dict()
        events.put(("started", job.key, {"identity": identity, "software": software_versions(identity)}))
        report = run_plan(device, declared=job.declared, plan=plan_for(job.plan, simulated=simulated),
                          progress=progress,
                          cancelled=cancel.is_set, fleet=job.fleet, fleet_cards=job.fleet_cards)
        report.faults = list(job.spec.profiles)
        events.put(("done", job.key, report))
    except Cancelled:
        events.put(("cancelled", job.key, None))
    except DeviceLost as exc:
        report = CardReport(label=job.spec.label, declared=job.declared.slug, verdict=CheckStatus.ERROR,
                            checks=[error_result("open", "device.lost", f"device lost: {exc.detail}", {})],
                            faults=list(job.spec.profiles))
        events.put(("done", job.key, report))
    except Exception:  # a bug or a driver failure outside any check: this card errors, the others carry on
        events.put(("crashed", job.key, traceback.format_exc(limit=8)))
    finally:
        if device is not None:
            device.close()


def serve(jobs, events, cancel, simulated: bool) -> None:
    """A card process: run the jobs it is given, one at a time, until it gets None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it cancels through `cancel`
    _die_with_parent()
    import torch  # once, here, rather than per run

    if simulated:
        torch.set_num_threads(1)  # a simulated card computes on one CPU thread: cards share the cores fairly
    while (job := jobs.get()) is not None:
        work(job, events, cancel)


class CardProcess:
    """A long-lived process for one card slot, fed one job at a time."""

    def __init__(self, name: str, *, simulated: bool):
        context = multiprocessing.get_context("spawn")
        self.jobs, self.events, self.cancel = context.Queue(), context.Queue(), context.Event()
        self.process = context.Process(target=serve, args=(self.jobs, self.events, self.cancel, simulated),
                                       name=f"refurb-card-{name}", daemon=True)
        self.process.start()
        self.busy = threading.Lock()  # one job at a time: two readers of one event queue would eat each other's

    def alive(self) -> bool:
        return self.process.is_alive()

    def run(self, job: CardJob, *, on_event: EventHandler, tick: Callable[[], bool] | None = None,
            poll_s: float = 0.2) -> bool:
        """Run one job, calling `on_event` for each of its events and `tick` between them (heartbeats; True asks
        to cancel). A cancelled check stops between chunks; a process that does not stop within CANCEL_GRACE_S
        is killed. Returns False if the job was cancelled."""
        if not self.busy.acquire(blocking=False):
            raise RuntimeError(f"{self.process.name} is busy with another job")
        try:
            return self._run(job, on_event=on_event, tick=tick, poll_s=poll_s)
        finally:
            self.busy.release()

    def _run(self, job: CardJob, *, on_event: EventHandler, tick, poll_s: float) -> bool:
        self.cancel.clear()
        self.jobs.put(job)
        cancelled_at = None
        while True:
            if cancelled_at is None and tick is not None and tick():
                self.cancel.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                self.stop()
                on_event("cancelled", job.key, None)
                return False
            try:
                kind, key, payload = self.events.get(timeout=poll_s)
            except queue.Empty:
                if self.process.is_alive():
                    continue
                # Its last message may still be in the pipe; a process that died without one crashed.
                try:
                    kind, key, payload = self.events.get(timeout=EXIT_GRACE_S)
                except queue.Empty:
                    on_event("crashed", job.key, f"worker process exited with code {self.process.exitcode}")
                    return True
            if key != job.key:
                continue  # a late event of an earlier job
            on_event(kind, key, payload)
            if kind in FINAL_EVENTS:
                return cancelled_at is None and kind != "cancelled"

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=EXIT_GRACE_S)
        if self.process.is_alive():  # stuck in a driver call and deaf to SIGTERM
            self.process.kill()
            self.process.join(timeout=EXIT_GRACE_S)


_processes: dict[str, CardProcess] = {}
_processes_lock = threading.Lock()


def card_process(slot_key: str, *, simulated: bool) -> CardProcess:
    """The live card process of a slot, started (again) if there is none. One still busy belongs to a run that
    ended without it (the slot's claim says only one run is active): it is stopped, and its job with it."""
    with _processes_lock:
        process = _processes.get(slot_key)
        if process is not None and process.alive() and process.busy.locked():
            process.stop()
        if process is None or not process.alive():
            process = _processes[slot_key] = CardProcess(slot_key, simulated=simulated)
        return process


def stop_card_processes() -> None:
    with _processes_lock:
        for process in _processes.values():
            if process.alive():
                process.jobs.put(None)
        for process in _processes.values():
            process.process.join(timeout=EXIT_GRACE_S)
            process.stop()
        _processes.clear()
