"""Bench hosts and their GPU slots: registering what a host sees, seating each card's unit in its slot (matched by
NVML UUID or serial, or taken in), and heartbeats."""

from __future__ import annotations

from dataclasses import asdict

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError, InvalidInput
from inventory.choices import UnitState
from inventory.errors import IntakeRejected
from inventory.lifecycle import allowed_targets
from inventory.models import Unit
from inventory.services import (
    CatalogIndex,
    IntakeRow,
    intake_import,
    uncatalogued_model,
    unit_stated_fields_check,
)
from inventory.validators import serial_lookup_key

from ..models import Bench, BenchSlot
from ..reference import board_vendor_for


class BenchRefused(DomainError):
    """This card cannot be tested now (its unit is sold, already on a bench, or the model is unknown)."""


def bench_for_host(name: str, *, simulated: bool) -> Bench:
    bench, _ = Bench.objects.get_or_create(name=name, defaults={"simulated": simulated})
    if bench.simulated != simulated:
        # Their results must not mix: the fleet baselines of real and simulated cards are kept apart by bench.
        raise BenchRefused(f"bench {name} tests {'simulated' if bench.simulated else 'real'} cards; "
                           f"name another bench for {'simulated' if simulated else 'real'} ones")
    Bench.objects.filter(pk=bench.pk).update(last_seen_at=timezone.now())
    return bench


def _intake_from_bench(identity: dict, bench: Bench, lot_reference: str = "") -> Unit:
    """Take in a card the bench found and no unit claims: the model it names (or, failing that, its PCI id; failing
    both, a model described by the card itself, without datasheet figures), the board maker from its PCI subsystem
    vendor, its serial or MISSING. The identity check later compares the name with the silicon, so a re-flashed fake
    taken in this way still fails."""
    catalog = CatalogIndex()
    model_text = identity["name"]
    resolution = catalog.resolve(model_text)
    if resolution.model is None:
        model_text = f"{identity['pci_vendor_id']}:{identity['pci_device_id']}"
        if catalog.resolve(model_text).model is None:
            model_text = uncatalogued_model(
                name=identity["name"], pci_vendor_id=identity["pci_vendor_id"],
                pci_device_id=identity["pci_device_id"], vram_bytes=identity["vram_total_bytes"],
                compute_capability=identity.get("compute_capability") or "",
                pcie_gen=identity.get("pcie_max_generation"), pcie_lanes=identity.get("pcie_max_width"),
                seen_by=f"bench {bench.name}").slug
    values = {"model": model_text, "board_vendor": board_vendor_for(identity["pci_subsystem_id"]),
              "serial": (identity.get("serial") or "").strip() or "MISSING",
              "vbios_version": identity.get("vbios_version") or "",
              "board_part_number": identity.get("board_part_number") or "",
              "notes": f"taken in by bench {bench.name} at bus {identity['bus_id']}"}
    try:
        _, units = intake_import(lot_reference=(lot_reference or f"BENCH-{bench.name}")[:64],
                                 rows=[IntakeRow(1, values)],
                                 lot_fields={"currency": "USD", "notes": "cards the bench found and took in"},
                                 actor_label=f"bench {bench.name}", source="bench")
    except IntakeRejected as exc:
        raise BenchRefused("; ".join(str(e) for e in exc.errors)) from None
    return units[0]


def unit_for_device(*, identity: dict, bench: Bench, require_testable: bool = True,
                    intake_lot: str = "") -> tuple[Unit, bool]:
    """The unit a seated card is: by NVML UUID (recorded at its first run), else by board serial; a card no unit
    claims is taken in (to `intake_lot`, else a lot named after the bench). Returns (unit, taken_in). Raises
    BenchRefused if the card cannot be taken in or (with require_testable) cannot be queued."""
    serial = serial_lookup_key(identity.get("serial") or "")  # as intake stored it
    unit = Unit.objects.select_related("gpu_model").filter(nvml_uuid=identity["uuid"]).first()
    if unit is None and serial:
        matches = list(Unit.objects.select_related("gpu_model").filter(serial=serial)[:3])
        if len(matches) > 1:
            raise BenchRefused(f"serial {serial} is on {len(matches)} units "
                               f"({', '.join(u.asset_tag for u in matches)}); record the card's UUID on one")
        unit = matches[0] if matches else None
    taken_in = unit is None
    if taken_in:
        unit = _intake_from_bench(identity, bench, intake_lot)
    elif require_testable and unit_untestable_reason(unit):
        raise BenchRefused(unit_untestable_reason(unit))
    return unit_identity_record(unit=unit, identity=identity), taken_in


def unit_identity_record(*, unit: Unit, identity: dict) -> Unit:
    """Keep what a seated card says about itself now (a card may have been re-flashed since intake). A UUID that
    another unit holds is refused: two units cannot be one GPU."""
    other = Unit.objects.filter(nvml_uuid=identity["uuid"]).exclude(pk=unit.pk).first()
    if other is not None:
        raise BenchRefused(f"the card seated as {unit.asset_tag} reports UUID {identity['uuid']}, which is "
                           f"{other.asset_tag}'s: seat the right card")
    seen = {"nvml_uuid": identity["uuid"], "pci_device_id": identity["pci_device_id"],
            "pci_subsystem_id": identity["pci_subsystem_id"],
            **({"vbios_version": identity["vbios_version"][:32]} if identity.get("vbios_version") else {})}
    try:
        unit_stated_fields_check(unit, seen)
    except InvalidInput as exc:
        raise BenchRefused(f"{unit.asset_tag} reports another identity than its valid certificate states "
                           f"({', '.join(exc.errors)}): send it for a new test (which supersedes the certificate) "
                           "or have its certificate revoked before seating it") from None
    Unit.objects.filter(pk=unit.pk).update(**seen)
    unit.refresh_from_db()
    return unit


def bench_register(*, name: str, simulated: bool, worker: str, devices: list, seats: dict[int, Unit] | None = None,
                   intake_lot: str = "") -> tuple[Bench, list[BenchSlot], dict[int, str], set[int]]:
    """Record a bench host and what it sees: one slot per device (`devices`: (DeviceSpec, identity dict) pairs),
    each with the card seated in it matched to its unit, or the unit `seats` names for its index (seated by hand).
    Returns the bench, its slots, by device index why a card could not be seated (e.g. not in the catalog), and
    the indexes whose cards were taken in just now (to `intake_lot`, else a lot named after the bench)."""
    seats = seats or {}
    refused: dict[int, str] = {}
    taken_in: set[int] = set()
    now = timezone.now()
    with transaction.atomic():
        bench = bench_for_host(name, simulated=simulated)
        Bench.objects.filter(pk=bench.pk).update(worker=worker[:128], last_seen_at=now)
        slots = []
        for spec, identity in devices:
            slot, _ = BenchSlot.objects.update_or_create(
                bench=bench, index=spec.index,
                defaults={"device": {**asdict(spec), "label": spec.label}, "uuid": identity.get("uuid", ""),
                          "name": identity.get("name", "")[:96], "last_seen_at": now})
            try:
                if spec.index in seats:
                    unit, new = unit_identity_record(unit=seats[spec.index], identity=identity), False
                else:
                    unit, new = unit_for_device(identity=identity, bench=bench, require_testable=False,
                                                intake_lot=intake_lot)
                if new:
                    taken_in.add(spec.index)
            except BenchRefused as exc:
                refused[spec.index] = str(exc)
                unit = None
            if unit is not None:
                BenchSlot.objects.filter(unit=unit).exclude(pk=slot.pk).update(unit=None)  # the card moved here
            slot.unit = unit
            slot.save(update_fields=["unit"])
            slots.append(slot)
        # Slots this host no longer sees hold no card.
        BenchSlot.objects.filter(bench=bench).exclude(index__in=[s.index for s in slots]).update(unit=None)
    bench.refresh_from_db()
    return bench, slots, refused, taken_in


NOT_NVIDIA = "not an NVIDIA card: not testable on this bench"


def unit_untestable_reason(unit: Unit) -> str:
    """Why this card cannot be queued for a test now ("" if it can). The bench drives NVIDIA cards (NVML and
    CUDA); an AMD card from the same lot waits for a bench that can drive it."""
    if unit.gpu_model.vendor != "nvidia":
        return f"{unit.asset_tag}: {NOT_NVIDIA}"
    if unit.state == UnitState.QUEUED or UnitState.QUEUED in allowed_targets(unit.state, held_from=unit.held_from):
        return ""
    return f"{unit.asset_tag} is {unit.state}; a {unit.state} card cannot be tested"


def bench_heartbeat(*, bench: Bench) -> None:
    now = timezone.now()
    Bench.objects.filter(pk=bench.pk).update(last_seen_at=now)
    BenchSlot.objects.filter(bench=bench).update(last_seen_at=now)


def slot_seat(*, slot: BenchSlot, unit: Unit | None) -> BenchSlot:
    """A technician seats a card in a slot (taking it out of any other), or empties the slot (unit None). A slot
    busy with a run keeps its card until the run ends."""
    with transaction.atomic():
        slot = BenchSlot.objects.select_for_update().get(pk=slot.pk)
        active = slot.runs.filter(state__in=["queued", "running"]).values_list("pk", flat=True).first()
        if slot.run_id is not None or active is not None:
            raise BenchRefused(f"slot {slot} has test run {slot.run_id or active} queued or running")
        if unit is not None:
            BenchSlot.objects.filter(unit=unit).exclude(pk=slot.pk).update(unit=None)
        slot.unit = unit
        slot.save(update_fields=["unit"])
    return slot
