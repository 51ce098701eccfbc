"""What a scanned code names. A bench scanner types whatever the sticker holds, then Enter: an asset tag, a board
serial, an NVML UUID, a certificate id, or the verify URL of a certificate's QR code."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from grading.models import Certificate, Grade
from grading.services import certificate_by_public_id
from inventory.choices import REASON_REQUIRED_STATES, UnitState
from inventory.models import Unit
from inventory.roles import allowed_targets_for
from inventory.selectors import unit_detail_list
from inventory.services import unit_moves_for
from inventory.validators import serial_lookup_key
from resale.models import Listing, OrderLine
from testbench.choices import RunState
from testbench.hardware.base import throttle_names
from testbench.models import Bench, BenchSlot, CheckResultRecord, TestRun

CODE_MAX = 200  # longer than any sticker's code: a stuck key or a pasted page, refused with a message
VERIFY_URL = re.compile(r"/verify/([^/?#\s]+)/?")


@dataclass(frozen=True)
class Match:
    unit: Unit
    by: str  # what matched: "asset tag", "serial", "NVML UUID", "certificate"


def cards_for_code(code: str) -> list[Match]:
    """The cards `code` names, each once (the first way it matched), asset tag first. Several cards share a code only
    by serial (boards of two makers may carry the same one)."""
    code = (code or "").strip()
    if not code or len(code) > CODE_MAX:
        return []
    found: dict[int, Match] = {}

    def add(units, by: str) -> None:
        for unit in units:
            found.setdefault(unit.pk, Match(unit=unit, by=by))

    units = Unit.objects.select_related("gpu_model", "lot")
    add(units.filter(asset_tag=code.upper()), "asset tag")
    if code.upper().startswith("GPU-"):
        add(units.filter(nvml_uuid__iexact=code), "NVML UUID")
    url = VERIFY_URL.search(code)
    certificate = certificate_by_public_id(url.group(1) if url else code)
    if certificate is not None:
        add(units.filter(pk=certificate.unit_id), "certificate")
    serial = serial_lookup_key(code)
    if serial:
        add(units.filter(serial=serial).order_by("gpu_model__name", "board_vendor"), "serial")
    return list(found.values())


@dataclass(frozen=True)
class UnitSheet:
    """What the bench shows of one card: its identity and where it is, its timeline, inspections, runs with their
    checks, its current grade and certificates, and its listings."""

    unit: Unit
    events: list
    inspections: list
    runs: list
    grade: object
    certificates: list
    listings: list
    sales: list  # the order lines that sold it, with their returns
    seat: object  # the bench slot the card is seated in, or None


def unit_sheet(asset_tag: str) -> UnitSheet | None:
    unit = unit_detail_list().filter(asset_tag=(asset_tag or "").upper()).first()
    if unit is None:
        return None
    runs = list(TestRun.objects.filter(unit=unit).select_related("bench", "telemetry").order_by("-created_at", "-id")
                .prefetch_related(Prefetch("results", CheckResultRecord.objects.order_by("position"))))
    return UnitSheet(
        unit=unit, events=sorted(unit.events.all(), key=lambda e: (e.created_at, e.pk), reverse=True),
        inspections=list(unit.inspections.all()), runs=runs,
        grade=Grade.objects.filter(unit=unit, is_current=True).first(),
        certificates=list(Certificate.objects.filter(unit=unit).order_by("-issued_at", "-id")),
        listings=list(Listing.objects.filter(items__unit=unit).order_by("-created_at", "-id")),
        sales=list(OrderLine.objects.filter(unit=unit).select_related("order", "card_return")
                   .order_by("-order__sold_at", "-id")),
        seat=BenchSlot.objects.filter(unit=unit).select_related("bench").first())


MOVE_WORDS = {"repair": "Send to repair", "on_hold": "Hold", "scrapped": "Scrap", "queued": "Queue for test",
              "inspected": "Mark inspected", "received": "Back to received"}


def moves_for(unit: Unit, user) -> list[tuple[str, str, bool]]:
    """The moves this user may make on the card now, as (state, label, needs a reason): the lifecycle's, less those
    a service makes, less those the user's role may not; leaving repair is the repair record's (its own form)."""
    allowed = allowed_targets_for(user)
    return [(state, MOVE_WORDS.get(state, f"Move to {UnitState(state).label.lower()}"),
             state in REASON_REQUIRED_STATES) for state in unit_moves_for(unit)
            if state in allowed and not (unit.state == UnitState.REPAIR and state == UnitState.QUEUED)]


@dataclass(frozen=True)
class SlotView:
    slot: object
    label: str  # what the host calls the device (its NVML name, or sim0, gpu1)
    unit: Unit | None
    run: object  # the slot's queued or running run, or None
    eta_s: float | None
    stale: bool  # running, but silent longer than REFURB_RUN_STALE_AFTER_S
    telemetry: dict
    throttle: list


def _clock_limits(telemetry: dict) -> list[str]:
    """What holds the clocks down, by name: the bench sends names ("throttle"), an older one the NVML mask. Idle is
    left out: between checks a card idles, which limits nothing."""
    names = telemetry.get("throttle")
    if names is None and isinstance(telemetry.get("throttle_reasons"), int):
        names = throttle_names(telemetry["throttle_reasons"])
    return [name for name in names or [] if name != "gpu_idle"]


@dataclass(frozen=True)
class BenchView:
    bench: object
    online: bool  # heard from within three heartbeats, or (embedded: no broker) its runs execute in this server
    slots: list


def board() -> list[BenchView]:
    """Every bench host and slot: the seated card and its queued or running run with progress, ETA, the last
    telemetry and throttle reasons; offline hosts and stale runs marked. Four queries, however many benches."""
    now = timezone.now()
    benches = list(Bench.objects.order_by("name").prefetch_related(
        Prefetch("slots", BenchSlot.objects.select_related("unit__gpu_model").order_by("index"))))
    active = {run.slot_id: run for run in TestRun.objects.filter(
        slot__bench__in=benches, state__in=(RunState.QUEUED, RunState.RUNNING)).order_by("created_at")}
    views = []
    for bench in benches:
        online = settings.REFURB_EMBEDDED or bool(bench.last_seen_at) and (
            now - bench.last_seen_at).total_seconds() < 3 * settings.REFURB_BENCH_HEARTBEAT_S
        slots = []
        for slot in bench.slots.all():
            run = active.get(slot.pk)
            progress = (run.progress or {}) if run else {}
            fraction = progress.get("fraction") or 0.0
            eta = None
            if run and run.state == RunState.RUNNING and run.started_at and fraction >= 0.02:
                eta = round((now - run.started_at).total_seconds() * (1 - fraction) / fraction)
            stale = bool(run and run.state == RunState.RUNNING and run.heartbeat_at and (
                now - run.heartbeat_at).total_seconds() > settings.REFURB_RUN_STALE_AFTER_S)
            telemetry = progress.get("telemetry") or {}
            label = slot.name or (slot.device or {}).get("label", "")
            slots.append(SlotView(slot=slot, label=label, unit=slot.unit, run=run, eta_s=eta, stale=stale,
                                  telemetry=telemetry, throttle=_clock_limits(telemetry)))
        views.append(BenchView(bench=bench, online=online, slots=slots))
    return views


def order_for_returned_serial(serial: str):
    """The order that sold the card with this serial (as scanned: read as intake stores serials), the newest if the
    card sold more than once; None if none did."""
    key = serial_lookup_key(serial)
    line = (OrderLine.objects.filter(serial_at_sale=key).select_related("order").order_by("-order__sold_at", "-id")
            .first()) if key else None
    return line.order if line else None
