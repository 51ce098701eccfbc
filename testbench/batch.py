"""A batch on this bench host: find each card's unit (or take the card in), queue and start its run, run every card
at once in worker processes, and store what they find through the run services.

`bench_run_batch` is what `manage.py bench run` and `make run` call; the command only parses and prints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from inventory.choices import UnitState
from inventory.errors import DomainError, IntakeRejected
from inventory.lifecycle import allowed_targets
from inventory.models import Unit
from inventory.services import CatalogIndex, IntakeRow, intake_import

from .checks.base import CheckResult, CheckStatus
from .choices import RunState
from .hardware.base import DeviceLost
from .hardware.discovery import DeviceSpec
from .models import Bench, TestRun
from .plans import plan_for
from .reference import board_vendor_for, reference_from_model
from .selectors import fleet_baseline
from .services import run_cancel, run_create, run_finish, run_progress_save, run_start

PROGRESS_SAVE_INTERVAL_S = 2.0


class BenchRefused(DomainError):
    """This card cannot be tested now (its unit is sold, already on a bench, or the model is unknown)."""


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
    identity: dict = field(default_factory=dict)
    report: object | None = None  # runner.CardReport, when the run finished
    error: str = ""  # why the card was not run, or why its worker stopped
    cancelled: bool = False
    check: str = ""
    check_fraction: float = 0.0
    phase: str = ""
    _saved_at: float = 0.0

    @property
    def verdict(self) -> str:
        if self.report is not None:
            return str(self.report.verdict)
        return "cancelled" if self.cancelled else ("error" if self.error else "")

    @property
    def fraction(self) -> float:
        if self.report is not None or self.error or self.cancelled:
            return 1.0
        if self.check not in self.checks:
            return 0.0
        return (self.checks.index(self.check) + self.check_fraction) / len(self.checks)

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


def bench_for_host(name: str, *, simulated: bool) -> Bench:
    bench, _ = Bench.objects.get_or_create(name=name, defaults={"simulated": simulated})
    if bench.simulated != simulated:
        # Their results must not mix: the fleet baselines of real and simulated cards are kept apart by bench.
        raise BenchRefused(f"bench {name} tests {'simulated' if bench.simulated else 'real'} cards; "
                           f"name another bench for {'simulated' if simulated else 'real'} ones")
    Bench.objects.filter(pk=bench.pk).update(last_seen_at=timezone.now())
    return bench


def _intake_from_bench(identity: dict, bench: Bench) -> Unit:
    """Take in a card the bench found and no unit claims: the model it names (or, failing that, its PCI id), the
    board maker from its PCI subsystem vendor, its serial or MISSING. The identity check later compares the name
    with the silicon, so a re-flashed fake taken in this way still fails."""
    catalog = CatalogIndex()
    model_text = identity["name"]
    resolution = catalog.resolve(model_text)
    if resolution.model is None:
        model_text = f"{identity['pci_vendor_id']}:{identity['pci_device_id']}"
        if catalog.resolve(model_text).model is None:
            raise BenchRefused(f"{identity['name']} ({model_text}) is not in the catalog")
    values = {"model": model_text, "board_vendor": board_vendor_for(identity["pci_subsystem_id"]),
              "serial": (identity.get("serial") or "").strip() or "MISSING",
              "vbios_version": identity.get("vbios_version") or "",
              "board_part_number": identity.get("board_part_number") or "",
              "notes": f"taken in by bench {bench.name} at bus {identity['bus_id']}"}
    try:
        _, units = intake_import(lot_reference=f"BENCH-{bench.name}"[:64], rows=[IntakeRow(1, values)],
                                 lot_fields={"currency": "USD", "notes": "cards the bench found and took in"},
                                 actor_label=f"bench {bench.name}", source="bench")
    except IntakeRejected as exc:
        raise BenchRefused("; ".join(str(e) for e in exc.errors)) from None
    return units[0]


def unit_for_device(*, identity: dict, bench: Bench) -> tuple[Unit, bool]:
    """The unit a seated card is: by NVML UUID (recorded at its first run), else by board serial; a card no unit
    claims is taken in. Returns (unit, taken_in). Raises BenchRefused if the card cannot be queued."""
    serial = (identity.get("serial") or "").strip().upper()
    unit = Unit.objects.select_related("gpu_model").filter(nvml_uuid=identity["uuid"]).first()
    if unit is None and serial:
        matches = list(Unit.objects.select_related("gpu_model").filter(serial=serial)[:3])
        if len(matches) > 1:
            raise BenchRefused(f"serial {serial} is on {len(matches)} units "
                               f"({', '.join(u.asset_tag for u in matches)}); record the card's UUID on one")
        unit = matches[0] if matches else None
    taken_in = unit is None
    if taken_in:
        unit = _intake_from_bench(identity, bench)
    elif unit.state != UnitState.QUEUED and UnitState.QUEUED not in allowed_targets(unit.state,
                                                                                     held_from=unit.held_from):
        raise BenchRefused(f"{unit.asset_tag} is {unit.state}; a {unit.state} card cannot be tested")
    # What the card says about itself now (a card may have been re-flashed since intake).
    Unit.objects.filter(pk=unit.pk).update(
        nvml_uuid=identity["uuid"], pci_device_id=identity["pci_device_id"],
        pci_subsystem_id=identity["pci_subsystem_id"], **({"vbios_version": identity["vbios_version"][:32]}
                                                          if identity.get("vbios_version") else {}))
    unit.refresh_from_db()
    return unit, taken_in


def software_versions(identity: dict) -> dict:
    from importlib.metadata import version

    import torch

    return {"refurb": version("refurb"), "torch": torch.__version__, "cuda": torch.version.cuda,
            "driver": identity.get("driver_version"), "cuda_driver": identity.get("cuda_version")}


def _prepare(outcome: CardOutcome, spec: DeviceSpec, *, bench: Bench, plan: str):
    """Identity, unit, run: everything before the worker starts. Returns the job, or None if refused."""
    from .workers import CardJob

    device = spec.open()
    try:
        outcome.identity = device.identity().as_dict()
    finally:
        device.close()
    with transaction.atomic():
        outcome.unit, outcome.taken_in = unit_for_device(identity=outcome.identity, bench=bench)
        outcome.run = run_create(unit=outcome.unit, plan=plan, bench=bench, device_index=spec.index,
                                 device_label=spec.label, faults=spec.profiles)
    fleet, cards = fleet_baseline(gpu_model_id=outcome.unit.gpu_model_id, simulated=bench.simulated)
    return CardJob(key=outcome.key, spec=spec, plan=plan, declared=reference_from_model(outcome.unit.gpu_model),
                   fleet=fleet, fleet_cards=cards)


def bench_run_batch(*, specs: list[DeviceSpec], plan: str, bench_name: str,
                    notify: Callable[[CardOutcome, str], None] = lambda outcome, event: None,
                    parallel: int | None = None) -> tuple[list[CardOutcome], bool]:
    """Test every card in `specs` with `plan`. Returns the outcomes (in the order of `specs`) and whether the
    batch ran to the end (False when cancelled with Ctrl-C). `notify(outcome, event)` is called for "ready",
    "progress" and "finished", for a live display."""
    from .workers import run_batch

    simulated = any(spec.kind == "simulated" for spec in specs)
    checks = list(plan_for(plan, simulated=simulated))
    bench = bench_for_host(bench_name, simulated=simulated)
    outcomes = [CardOutcome(key=i, label=spec.label, checks=checks, faults=list(spec.profiles))
                for i, spec in enumerate(specs)]
    jobs = []
    for outcome, spec in zip(outcomes, specs, strict=True):
        try:
            jobs.append(_prepare(outcome, spec, bench=bench, plan=plan))
        except (BenchRefused, DomainError, DeviceLost) as exc:
            outcome.error = str(exc)
        notify(outcome, "ready" if not outcome.error else "finished")

    def start(outcome: CardOutcome) -> None:
        if outcome.run.state == RunState.QUEUED:
            outcome.run = run_start(run=outcome.run, identity=outcome.identity,
                                    software=software_versions(outcome.identity))

    def on_event(kind: str, key: int, payload) -> None:
        outcome = outcomes[key]
        if kind == "started":
            start(outcome)
            notify(outcome, "started")
            return
        if kind == "progress":
            outcome.check, outcome.check_fraction, outcome.phase = payload
            now = time.monotonic()
            if now - outcome._saved_at >= PROGRESS_SAVE_INTERVAL_S:
                outcome._saved_at = now
                run_progress_save(run=outcome.run, progress={"check": outcome.check, "phase": outcome.phase,
                                                             "fraction": round(outcome.fraction, 3)})
            notify(outcome, "progress")
            return
        if kind == "done":
            start(outcome)  # a card that could not even be opened still gets its (error) result recorded
            outcome.report = payload
            outcome.run = run_finish(run=outcome.run, report=payload)
        elif kind == "cancelled":
            outcome.cancelled = True
            outcome.run = run_cancel(run=outcome.run, reason="stopped at the bench (Ctrl-C)")
        else:  # crashed: the worker died or hit a bug outside the checks; the card is not shown healthy
            from .runner import CardReport

            start(outcome)
            outcome.error = str(payload).strip().splitlines()[-1] if payload else "worker crashed"
            outcome.report = CardReport(label=outcome.label, declared=outcome.model, verdict=CheckStatus.ERROR,
                                        checks=[CheckResult("worker", CheckStatus.ERROR, outcome.error,
                                                            evidence={"traceback": str(payload)})],
                                        faults=outcome.faults)
            outcome.run = run_finish(run=outcome.run, report=outcome.report)
        notify(outcome, "finished")

    if parallel is None:
        # A GPU per process; simulated cards share the CPU, one core each.
        parallel = len(jobs) if not simulated else max(1, min(len(jobs), os.cpu_count() or 1))
    completed = run_batch(jobs, parallel=max(1, parallel), on_event=on_event) if jobs else True
    return outcomes, completed
