"""A batch on this bench host: register what the host sees (each card seated in a slot, matched to its unit or taken
in), queue a run per card, and execute the runs here — each in its own worker process, through the same
`run_execute` a Celery worker calls — with a live view of their progress.

`bench_run_batch` is what `manage.py bench run` and `make run` call; the command only parses and prints.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from core.errors import DomainError
from inventory.choices import UnitState
from inventory.models import Lot, Unit

from .hardware.base import DeviceLost
from .hardware.discovery import SIMULATED_MEMORY_BYTES, DeviceSpec
from .models import TestRun
from .orchestration.execution import run_execute
from .plans import plan_for
from .services import bench_register, run_cancel, run_create, run_sweep, unit_untestable_reason


@dataclass
class CardOutcome:
    """One card of the batch, from discovery to its verdict."""

    key: int
    label: str
    checks: list[str]
    faults: list[str] = field(default_factory=list)
    unit: Unit | None = None
    run: TestRun | None = None
    taken_in: bool = False
    report: object | None = None  # runner.CardReport, when the run finished
    error: str = ""  # why the card was not run, or why its worker stopped
    cancelled: bool = False
    untested: bool = False  # never started: the bench cannot test this card (error says why)
    check: str = ""
    phase: str = ""
    progress: float = 0.0

    @property
    def verdict(self) -> str:
        if self.report is not None:
            return str(self.report.verdict)
        if self.untested:
            return "not tested"
        return "cancelled" if self.cancelled else ("error" if self.error else "")

    @property
    def counts_against(self) -> bool:
        """Whether this card makes the batch's exit status non-zero: it failed, errored or was cancelled."""
        return self.verdict in ("fail", "error", "cancelled")

    @property
    def fraction(self) -> float:
        return 1.0 if self.report is not None or self.error or self.cancelled else self.progress

    @property
    def model(self) -> str:
        return self.unit.gpu_model.slug if self.unit else ""

    def as_dict(self) -> dict:
        checks = [{"name": c.name, "status": str(c.status), "summary": c.summary, "metrics": c.metrics}
                  for c in (self.report.checks if self.report else [])]
        return {"asset_tag": self.unit.asset_tag if self.unit else None,
                "serial": (self.unit.serial or None) if self.unit else None, "model": self.model or None,
                "device": self.label, "run": self.run.pk if self.run else None, "taken_in": self.taken_in,
                "faults": self.faults, "verdict": self.verdict, "checks": checks,
                **({"error": self.error} if self.error else {})}


@dataclass
class LotSeating:
    """A lot's cards on a simulated bench: a simulated card standing in for each testable one, seated in its own
    slot, and the cards left off with the reason."""

    specs: list[DeviceSpec]
    seats: dict[int, Unit]  # slot index → the unit seated there
    untested: list[tuple[Unit, str]]


# A lot's cards that wait for a test: taken in, inspected (after intake or a repair), queued, or returned. Others
# were tested already; retesting one is a decision to queue it, not something a batch does by the way.
AWAITING_TEST = (UnitState.RECEIVED, UnitState.INSPECTED, UnitState.QUEUED, UnitState.RETURNED)


def lot_seating(reference: str, *, slots: int, faults: list[tuple[str, ...]] | None = None, seed: int = 0,
                time_scale: float = 1.0, memory_bytes: int = SIMULATED_MEMORY_BYTES) -> LotSeating:
    """Seat a demonstration lot's NVIDIA cards that wait for a test, in intake order, in up to `slots` simulated
    slots; fault sets are dealt out in turn as for any simulated batch. Each stand-in reports its unit's serial (none
    where the sticker is gone), and its UUID (the one recorded at an earlier run, else one made from the asset tag):
    the same card has the same UUID every time. Raises DomainError for an unknown lot, or a lot of real cards (a
    simulated run must never grade and certify a real card)."""
    lot = Lot.objects.filter(reference=reference).first()
    if lot is None:
        raise DomainError(f"no lot {reference!r}")
    if not lot.demo:
        raise DomainError(f"lot {reference} holds real cards: simulated cards stand in only for a demonstration "
                          "lot's (make run's DEMO-001); test real cards on a bench with their GPUs")
    faults = faults or [("healthy",)]
    specs, seats, untested = [], {}, []
    for unit in lot.units.select_related("gpu_model").order_by("id"):
        reason = unit_untestable_reason(unit)
        if not reason and unit.state not in AWAITING_TEST:
            reason = f"{unit.state}: tested already (queue it to test it again)"
        if not reason and len(specs) == slots:
            reason = f"no free slot on this bench ({slots} slots); it waits for the next batch"
        if reason:
            untested.append((unit, reason))
            continue
        index = len(specs)
        made_up = hashlib.sha256(f"refurb-simulated:{unit.asset_tag}".encode()).hexdigest()
        specs.append(DeviceSpec("simulated", index, slug=unit.gpu_model.slug, seed=seed * 1000 + index,
                                profiles=tuple(faults[index % len(faults)]), memory_bytes=memory_bytes,
                                time_scale=time_scale, serial=unit.serial,  # "" where the sticker is gone
                                uuid=unit.nvml_uuid or f"GPU-{uuid.UUID(made_up[:32])}"))
        seats[index] = unit
    return LotSeating(specs=specs, seats=seats, untested=untested)


def bench_run_batch(*, specs: list[DeviceSpec], plan: str, bench_name: str, worker: str = "bench run",
                    notify: Callable[[CardOutcome, str], None] = lambda outcome, event: None,
                    parallel: int | None = None, seats: dict[int, Unit] | None = None,
                    untested: list[tuple[Unit, str]] = (), intake_lot: str = "",
                    simulated: bool | None = None) -> tuple[list[CardOutcome], bool]:
    """Test every card in `specs` with `plan`. Returns the outcomes (in the order of `specs`, then the `untested`
    cards) and whether the batch ran to the end (False when cancelled with Ctrl-C). `notify(outcome, event)` is
    called with "ready", "started", "progress" and "finished", for a live display (from several threads).
    `seats` names the unit seated in a slot by hand (by slot index), where matching by UUID or serial would not do;
    `untested` lists cards the bench was given but cannot test, with the reason, to report with the rest;
    `intake_lot` is the lot that a card no unit claims is taken in to (default: one named after the bench)."""
    if simulated is None:
        simulated = any(spec.kind == "simulated" for spec in specs)
    checks = list(plan_for(plan, simulated=simulated))
    outcomes = [CardOutcome(key=i, label=spec.label, checks=checks, faults=list(spec.profiles))
                for i, spec in enumerate(specs)]
    # Runs left by a bench run that was killed: interrupted (running, silent) or cancelled (queued, never sent).
    run_sweep()
    if settings.REFURB_EMBEDDED:
        for leftover in TestRun.objects.filter(bench__name=bench_name, state="queued"):
            run_cancel(run=leftover, reason="left queued by an earlier bench run that did not finish")
    devices = []
    for outcome, spec in zip(outcomes, specs, strict=True):
        try:
            devices.append((spec, spec.read_identity()))
        except DeviceLost as exc:
            outcome.error = str(exc)
    bench, slots, refused, taken_in = bench_register(name=bench_name, simulated=simulated, worker=worker,
                                                     devices=devices, seats=seats, intake_lot=intake_lot)
    slot_by_index = {slot.index: slot for slot in slots}
    runs: dict[int, int] = {}  # outcome key → run id
    for outcome, spec in zip(outcomes, specs, strict=True):
        slot = slot_by_index.get(spec.index)
        if slot is not None and not outcome.error:
            outcome.unit = Unit.objects.select_related("gpu_model").get(pk=slot.unit_id) if slot.unit_id else None
            outcome.taken_in = spec.index in taken_in
            outcome.error = refused.get(spec.index, "") or (unit_untestable_reason(outcome.unit)
                                                             if outcome.unit else "no unit for this card")
            if not outcome.error:
                try:
                    outcome.run = run_create(unit=outcome.unit, plan=plan, slot=slot)
                    runs[outcome.key] = outcome.run.pk
                except DomainError as exc:
                    outcome.error = str(exc)
        notify(outcome, "ready" if not outcome.error else "finished")
    for unit, reason in untested:
        outcome = CardOutcome(key=len(outcomes), label="—", checks=checks, unit=unit, untested=True,
                              error=reason.removeprefix(f"{unit.asset_tag}: "))  # the tag is on the line already
        outcomes.append(outcome)
        notify(outcome, "finished")

    cancel = threading.Event()

    def execute(outcome: CardOutcome) -> None:
        def on_progress(event: str, info: dict) -> None:
            if event == "progress":
                outcome.check, outcome.phase, outcome.progress = info["check"], info["phase"], info["fraction"]
            elif event == "finished":
                outcome.report = info.get("report")
                outcome.error = info.get("error", "")
                outcome.cancelled = bool(info.get("cancelled"))
            notify(outcome, event)

        try:
            # One run per card here: its process ends with it, rather than idle on to the end of the batch.
            outcome.run = run_execute(runs[outcome.key], worker=worker, cancel=cancel, on_progress=on_progress,
                                      keep_process=False)
            if outcome.run.state == "cancelled" and not outcome.cancelled:  # cancelled before it started
                outcome.cancelled = True
                notify(outcome, "finished")
        except DomainError as exc:  # e.g. cancelled in the admin before a thread took it up
            outcome.error = str(exc)
            notify(outcome, "finished")
        finally:
            connection.close()  # this thread's database connection

    if parallel is None:
        # A GPU per process; simulated cards share the CPU, one core each.
        parallel = len(runs) if not simulated else max(1, min(len(runs), os.cpu_count() or 1))
    pending = set()
    if runs:
        pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="refurb-run")
        pending = {pool.submit(execute, outcomes[key]) for key in runs}
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
        except KeyboardInterrupt:
            cancel.set()  # running checks stop between chunks; runs not started are cancelled as they come up
            wait(pending)
        finally:
            pool.shutdown(wait=True)
    for outcome in outcomes:
        if outcome.run is not None:
            outcome.run = TestRun.objects.get(pk=outcome.run.pk)
    return outcomes, not cancel.is_set()
