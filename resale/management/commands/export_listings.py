"""python manage.py export_listings --channel ebay|google|backmarket|json [--only CHANNEL] --out FILE"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import InvalidInput
from resale.choices import Channel
from resale.services.exports import FORMATS, listings_export


class Command(BaseCommand):
    help = ("Write a channel's listings in the file it accepts: eBay's Seller Hub draft upload (CSV), Google "
            "Merchant Center's product feed (TSV), Back Market's listing CSV, or a JSON feed of active listings.")

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, choices=FORMATS, help="Which file to write")
        parser.add_argument("--only", choices=Channel.values, help="json: only this channel's listings")
        parser.add_argument("--out", required=True, type=Path, help="File to write ('-' for standard output)")

    def handle(self, *args, **opts):
        try:
            export = listings_export(fmt=opts["channel"], channel=opts["only"])
        except InvalidInput as exc:
            raise CommandError("nothing written:\n" + "\n".join(
                f"  {key}: {' '.join(msgs)}" for key, msgs in exc.errors.items())) from None
        if str(opts["out"]) == "-":
            self.stdout.write(export.content, ending="")
            return
        try:
            opts["out"].write_text(export.content, encoding="utf-8", newline="")
        except OSError as exc:
            raise CommandError(f"cannot write {opts['out']}: {exc.strerror}") from None
        self.stderr.write(self.style.SUCCESS(f"Wrote {export.count} listing(s) to {opts['out']}."))
