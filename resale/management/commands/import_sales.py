"""python manage.py import_sales --channel CHANNEL FILE: a channel's sale/status CSV, all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import InvalidInput
from inventory.errors import IntakeRejected
from resale.choices import Channel
from resale.services.exports import sales_import


class Command(BaseCommand):
    help = ("Read a channel's sale/status CSV (columns external_id or sku, status sold|withdrawn|ended|active, price, "
            "fees, shipping, date, buyer_reference) and mark its listings sold or ended. Any bad line rejects the "
            "whole file.")

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, choices=Channel.values)
        parser.add_argument("file", type=Path)

    def handle(self, *args, **opts):
        try:
            content = opts["file"].read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc.strerror}") from None
        try:
            done = sales_import(channel=opts["channel"], content=content, actor_label="manage.py import_sales")
        except IntakeRejected as exc:
            raise CommandError(f"{opts['file']} rejected, nothing changed:\n" + "\n".join(
                f"  {e}" for e in exc.errors)) from None
        except InvalidInput as exc:
            raise CommandError("nothing changed:\n" + "\n".join(
                f"  {key}: {' '.join(msgs)}" for key, msgs in exc.errors.items())) from None
        self.stdout.write(self.style.SUCCESS(
            f"{done['sold']} sold, {done['withdrawn']} ended, {done['unchanged']} unchanged."))
