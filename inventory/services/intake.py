"""Intake: taking a batch of cards into a lot. Every face (CLI, API, admin) calls intake_import.

A batch is checked whole before anything is written: every bad row is reported by line and field,
and either every card is taken in or none is.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import InvalidInput

from .. import events
from ..choices import CosmeticGrade, UnitState
from ..errors import IntakeRejected, RowError
from ..lifecycle import INITIAL_STATE
from ..models import Lot, Unit, UnitEvent
from ..validators import money_parse, serial_normalize, text_problem
from .catalog import CatalogIndex
from .lots import lot_allocate_costs, lot_create, lot_validate
from .sheets import CsvSheet, SheetRow, sheet_read_csv, sheet_read_upload
from .units import actor_label_for, asset_tags_generate

REQUIRED_COLUMNS = ("model", "board_vendor", "serial")
OPTIONAL_COLUMNS = ("source_rig", "notes", "cost", "location", "cosmetic_grade", "board_part_number", "vbios_version")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# Written in the serial column when the card has no serial sticker: recorded as missing, never invented.
SERIAL_MISSING = "MISSING"

# Canonical spelling of board makers seen in mining lots; others are kept as typed.
KNOWN_BOARD_VENDORS = [
    "ASRock", "ASUS", "Biostar", "Colorful", "Dell", "EVGA", "Gainward", "Galax", "Gigabyte", "HP", "Inno3D",
    "KFA2", "Lenovo", "Manli", "MSI", "NVIDIA", "Palit", "PNY", "PowerColor", "Sapphire", "XFX", "Yeston",
    "Zotac", "AMD", "Maxsun", "Peladn", "Emtek",
]
_VENDOR_CANONICAL = {v.lower(): v for v in KNOWN_BOARD_VENDORS}
_TEXT_LIMITS = {"board_vendor": 64, "serial": 64, "source_rig": 64, "location": 64, "board_part_number": 64,
                "vbios_version": 32}
# Columns of free text that may span lines (in a quoted cell); every other cell is one line.
_MULTILINE = {"notes"}


IntakeRow = SheetRow  # one card as given: raw text by column name, and its file line or list position


@dataclass
class ValidRow:
    line: int
    gpu_model: object
    board_vendor: str
    serial: str
    serial_missing: bool
    source_rig: str = ""
    notes: str = ""
    cost_given: Decimal | None = None
    location: str = ""
    cosmetic_grade: str = ""
    board_part_number: str = ""
    vbios_version: str = ""
    extra: dict = field(default_factory=dict)


def intake_read_csv(content: bytes | str) -> CsvSheet:
    """The cards of an intake sheet (inventory.services.sheets: strict, columns by name, comma, semicolon or tab);
    where the separator is not the comma, a cost may use the decimal comma."""
    return sheet_read_csv(content, columns=COLUMNS, required=REQUIRED_COLUMNS, decimal_columns=("cost",))


def intake_read_upload(upload) -> CsvSheet:
    """An intake sheet from an upload or an open binary file, its size checked before it is read."""
    return sheet_read_upload(upload, columns=COLUMNS, required=REQUIRED_COLUMNS, decimal_columns=("cost",))


def intake_parse_csv(content: bytes | str) -> list[IntakeRow]:
    """The rows of a CSV file (see intake_read_csv)."""
    return intake_read_csv(content).rows


def _vendor_normalize(text: str) -> str:
    # Part of the duplicate key: a full-width or doubly spaced maker's name is the same maker.
    vendor = " ".join(unicodedata.normalize("NFKC", text).split())
    return _VENDOR_CANONICAL.get(vendor.lower(), vendor)


def intake_validate(
    rows: list[IntakeRow], catalog: CatalogIndex | None = None, *, allow_costs: bool = True
) -> list[ValidRow]:
    """Check every row (and the batch against the database); return clean rows or raise with every error.
    With allow_costs False (a role that may not see costs), a row that sets a cost is an error."""
    catalog = catalog or CatalogIndex()
    errors: list[RowError] = []
    if not rows:
        raise IntakeRejected([RowError(1, "file", "no cards to take in")])
    if len(rows) > settings.REFURB_INTAKE_MAX_ROWS:
        raise IntakeRejected([RowError(1, "file", f"{len(rows)} rows; at most {settings.REFURB_INTAKE_MAX_ROWS} "
                                                  "per batch")])
    valid: list[ValidRow] = []
    for row in rows:
        get = {k: (v or "").strip() for k, v in row.values.items()}.get
        row_errors: list[RowError] = []

        def bad(field_name: str, message: str, line=row.line, sink=row_errors) -> None:
            sink.append(RowError(line, field_name, message))

        for name in COLUMNS:
            text = get(name, "")
            if problem := text_problem(text, multiline=name in _MULTILINE):
                bad(name, problem)
            elif name in _TEXT_LIMITS and len(text) > _TEXT_LIMITS[name]:
                bad(name, f"longer than {_TEXT_LIMITS[name]} characters")
        refused = {e.field for e in row_errors}

        resolution = catalog.resolve(get("model", ""))
        if resolution.model is None and "model" not in refused:
            bad("model", resolution.error)
        vendor = _vendor_normalize(get("board_vendor", ""))
        if not vendor and "board_vendor" not in refused:
            bad("board_vendor", "missing required field")
        serial = ""
        if "serial" not in refused:
            try:
                serial = serial_normalize(get("serial", ""))
            except ValidationError as exc:  # its characters were checked above; kept so the two cannot disagree
                bad("serial", " ".join(exc.messages))
            else:
                if not serial:
                    bad("serial", f"missing required field (write {SERIAL_MISSING} if the card has no serial "
                                  "sticker)")
                elif len(serial) > _TEXT_LIMITS["serial"]:  # NFKC may lengthen a serial
                    bad("serial", f"longer than {_TEXT_LIMITS['serial']} characters")
        serial_missing = serial == SERIAL_MISSING
        serial = "" if serial_missing else serial
        cost = None
        if get("cost", "") and not allow_costs:
            bad("cost", "setting a cost needs the reseller or admin role")
        elif get("cost", ""):
            try:
                cost = money_parse(get("cost"))
            except ValueError as exc:
                bad("cost", str(exc))
        grade = get("cosmetic_grade", "").upper()
        if grade and grade not in CosmeticGrade.values:
            bad("cosmetic_grade", f"{get('cosmetic_grade')!r} is not one of A, B, C, D")
        if row_errors:
            errors.extend(row_errors)
            continue
        valid.append(ValidRow(
            line=row.line, gpu_model=resolution.model, board_vendor=vendor, serial=serial,
            serial_missing=serial_missing, source_rig=get("source_rig", ""), notes=get("notes", ""),
            cost_given=cost, location=get("location", ""), cosmetic_grade=grade,
            board_part_number=get("board_part_number", ""), vbios_version=get("vbios_version", ""),
        ))

    seen: dict[tuple[str, str], int] = {}
    for row in valid:
        if row.serial_missing:
            continue
        key = (row.board_vendor.lower(), row.serial)
        if key in seen:
            errors.append(RowError(row.line, "serial", f"duplicate serial: {row.board_vendor} {row.serial} is "
                                                       f"also on line {seen[key]}"))
        else:
            seen[key] = row.line
    if seen:
        existing = Unit.objects.filter(serial__in={serial for _, serial in seen}).values_list(
            "board_vendor", "serial", "asset_tag")
        for vendor, serial, tag in existing:
            line = seen.get((vendor.lower(), serial))
            if line is not None:
                errors.append(RowError(line, "serial", f"duplicate serial: {vendor} {serial} is already in "
                                                       f"inventory as {tag}"))
    if errors:
        raise IntakeRejected(sorted(errors, key=lambda e: (e.line, COLUMNS.index(e.field)
                                                           if e.field in COLUMNS else -1)))
    return valid


def _intake_check(*, lot_reference: str, rows: list[IntakeRow], lot_fields: dict | None,
                  allow_costs: bool) -> tuple[str, list[ValidRow]]:
    """Everything an intake checks before it writes, for a dry run and a real one alike: the lot's reference and
    fields (checked even when the lot exists and they go unused, so a typo is never passed over), then every row."""
    reference = (lot_reference or "").strip()
    if not reference:
        raise InvalidInput({"lot": ["a lot reference is required"]})
    if lot_fields or not Lot.objects.filter(reference=reference).exists():
        lot_validate(reference=reference, **(lot_fields or {}))
    return reference, intake_validate(rows, allow_costs=allow_costs)


def intake_import(
    *,
    lot_reference: str,
    rows: list[IntakeRow],
    lot_fields: dict | None = None,
    actor=None,
    actor_label: str = "",
    source: str = "api",
    dry_run: bool = False,
    allow_costs: bool = True,
) -> tuple[Lot, list[Unit]]:
    """Take `rows` into the lot `lot_reference`, creating the lot (from `lot_fields`) if it does not exist.

    All or nothing: raises IntakeRejected (every bad row) or InvalidInput (bad lot fields) and writes nothing.
    Each unit gets an asset tag, a cost basis and a first event (∅ → received). With dry_run, makes exactly the
    real run's checks and writes nothing (the lot returned is then unsaved if it does not exist yet).
    """
    reference, valid = _intake_check(lot_reference=lot_reference, rows=rows, lot_fields=lot_fields,
                                     allow_costs=allow_costs)
    if dry_run:
        return Lot.objects.filter(reference=reference).first() or lot_validate(reference=reference,
                                                                               **(lot_fields or {})), []
    label = actor_label_for(actor, actor_label)
    with transaction.atomic():
        lot = Lot.objects.select_for_update().filter(reference=reference).first()
        if lot is None:
            lot = lot_create(reference=reference, **(lot_fields or {}))
        now = timezone.now()
        tags = asset_tags_generate(len(valid))
        units = [
            Unit(
                asset_tag=tag, gpu_model=row.gpu_model, lot=lot, board_vendor=row.board_vendor, serial=row.serial,
                serial_missing=row.serial_missing, source_rig=row.source_rig, notes=row.notes,
                cost_given=row.cost_given, location=row.location, cosmetic_grade=row.cosmetic_grade,
                board_part_number=row.board_part_number, vbios_version=row.vbios_version,
                state=INITIAL_STATE, received_at=now, state_changed_at=now,
            )
            for tag, row in zip(tags, valid, strict=True)
        ]
        try:
            with transaction.atomic():
                Unit.objects.bulk_create(units, batch_size=500)
        except IntegrityError:
            # Another intake took in one of these serials between our check and our insert.
            raise IntakeRejected([RowError(1, "serial", "a card in this batch was taken in by someone else "
                                                        "meanwhile; nothing imported, check and retry")]) from None
        if any(u.pk is None for u in units):  # backends that do not return ids from bulk inserts
            by_tag = dict(Unit.objects.filter(asset_tag__in=tags).values_list("asset_tag", "pk"))
            for unit in units:
                unit.pk = by_tag[unit.asset_tag]
        facts = [events.received(lot=lot.reference, line=row.line, source=source, cosmetic_grade=row.cosmetic_grade)
                 for row in valid]
        UnitEvent.objects.bulk_create(
            [
                UnitEvent(unit=unit, actor=actor, actor_label=label, from_state="", to_state=UnitState.RECEIVED,
                          reason="intake", kind=event.kind, payload=event.payload, created_at=now)
                for unit, event in zip(units, facts, strict=True)
            ],
            batch_size=500,
        )
        lot_allocate_costs(lot=lot)
    cost_basis = dict(Unit.objects.filter(pk__in=[u.pk for u in units]).values_list("pk", "cost_basis"))
    for unit in units:
        unit.cost_basis = cost_basis[unit.pk]
    return lot, units
