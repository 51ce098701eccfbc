"""python manage.py intake --lot REF (--csv FILE | --model … --vendor … --serial …): take cards into a lot."""

from argparse import ArgumentTypeError
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import InvalidInput
from inventory.errors import IntakeRejected
from inventory.services import IntakeRow, intake_import, intake_read_upload, lot_cost_warnings
from inventory.services.intake import SERIAL_MISSING
from inventory.validators import money_parse

# Argument types raise ArgumentTypeError, which argparse reports as a usage error (exit status 2); a CommandError
# raised while the arguments are parsed would escape as a traceback.


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _money(text: str) -> Decimal:
    try:
        return money_parse(text)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from None


# How the lot's fields are spelled on this command line, for messages about them.
_LOT_OPTIONS = {"supplier": "--supplier", "purchased_on": "--purchased-on", "total_cost": "--total-cost",
                "currency": "--currency", "reference": "--lot", "lot": "--lot"}


class Command(BaseCommand):
    help = ("Take cards into a lot, creating the lot if it does not exist: a CSV file (columns model, "
            "board_vendor, serial, source_rig, notes, cost, location, cosmetic_grade) or one card from flags. "
            "All rows are checked first; any bad row rejects the whole file.")

    def add_arguments(self, parser):
        parser.add_argument("--lot", required=True, help="Lot reference")
        parser.add_argument("--csv", type=Path, help="CSV file with a header line")
        parser.add_argument("--dry-run", action="store_true", help="Check only; import nothing")
        lot = parser.add_argument_group("new lot (used only when the lot does not exist yet)")
        lot.add_argument("--supplier", default="")
        lot.add_argument("--purchased-on", type=_date)
        lot.add_argument("--total-cost", type=_money)
        lot.add_argument("--currency")
        card = parser.add_argument_group("a single card (instead of --csv)")
        card.add_argument("--model", help="Catalog name, alias, slug or PCI id")
        card.add_argument("--vendor", help="Board vendor (MSI, EVGA, …)")
        serial = card.add_mutually_exclusive_group()
        serial.add_argument("--serial")
        serial.add_argument("--no-serial", action="store_true", help="The card has no serial sticker")
        card.add_argument("--rig", default="", help="Source rig label")
        card.add_argument("--notes", default="")
        card.add_argument("--cost", default="")
        card.add_argument("--location", default="")
        card.add_argument("--cosmetic-grade", default="")

    def handle(self, *args, **opts):
        rows = self._rows(opts)
        lot_fields = {k: opts[k] for k in ("supplier", "purchased_on", "total_cost", "currency")
                      if opts[k] not in (None, "")}
        try:
            lot, units = intake_import(lot_reference=opts["lot"], rows=rows, lot_fields=lot_fields,
                                       actor_label="cli", source="cli", dry_run=opts["dry_run"])
        except IntakeRejected as exc:
            raise CommandError(f"{opts['csv'] or 'card'} rejected, nothing imported:\n" + "\n".join(
                f"  {e}" for e in exc.errors)) from None
        except InvalidInput as exc:
            raise CommandError("nothing imported:\n" + "\n".join(
                f"  {_LOT_OPTIONS.get(key, key)}: {' '.join(msgs)}" for key, msgs in exc.errors.items())) from None
        if opts["dry_run"]:
            self.stdout.write(self.style.SUCCESS(f"{len(rows)} card(s) checked: no errors. Nothing imported."))
            return
        for unit in units:
            serial = "(no serial)" if unit.serial_missing else unit.serial
            self.stdout.write(f"  {unit.asset_tag}  {unit.gpu_model.name:<28} {unit.board_vendor:<10} {serial}")
        self.stdout.write(self.style.SUCCESS(f"Took in {len(units)} card(s) into lot {lot.reference}."))
        for warning in lot_cost_warnings(lot=lot):
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))

    def _rows(self, opts) -> list[IntakeRow]:
        single = any(opts[k] for k in ("model", "vendor", "serial", "no_serial"))
        if opts["csv"] and single:
            raise CommandError("give either --csv or single-card flags, not both")
        if opts["csv"]:
            try:
                with opts["csv"].open("rb") as handle:
                    sheet = intake_read_upload(handle)  # its size is checked before it is read
            except OSError as exc:
                raise CommandError(f"cannot read {opts['csv']}: {exc.strerror}") from None
            except IntakeRejected as exc:
                raise CommandError(f"{opts['csv']} rejected, nothing imported:\n" + "\n".join(
                    f"  {e}" for e in exc.errors)) from None
            self.stdout.write(f"Read {opts['csv']}: {len(sheet.rows)} row(s), {sheet.separator_name}-separated.")
            return sheet.rows
        if not single:
            raise CommandError("give --csv FILE, or --model, --vendor and --serial (or --no-serial) for one card")
        values = {
            "model": opts["model"] or "", "board_vendor": opts["vendor"] or "",
            "serial": SERIAL_MISSING if opts["no_serial"] else (opts["serial"] or ""),
            "source_rig": opts["rig"], "notes": opts["notes"], "cost": opts["cost"], "location": opts["location"],
            "cosmetic_grade": opts["cosmetic_grade"],
        }
        return [IntakeRow(line=1, values=values)]
