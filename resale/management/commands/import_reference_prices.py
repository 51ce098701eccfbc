"""python manage.py import_reference_prices FILE: reference prices per catalog model, all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.errors import IntakeRejected
from resale.services import reference_prices_import


class Command(BaseCommand):
    help = ("Set each catalog model's reference price (what a card graded F-A/A fetches on the own storefront) from "
            "a CSV: model, price, currency, source. Any bad line rejects the whole file.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, **opts):
        try:
            content = opts["file"].read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc.strerror}") from None
        try:
            created, updated = reference_prices_import(content)
        except IntakeRejected as exc:
            raise CommandError(f"{opts['file']} rejected, nothing imported:\n" + "\n".join(
                f"  {e}" for e in exc.errors)) from None
        self.stdout.write(self.style.SUCCESS(f"{created} reference price(s) added, {updated} updated."))
