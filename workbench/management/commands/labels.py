"""python manage.py labels --lot REF [--profile 62x29|50x25|a4] [--kind asset|certificate] --out FILE.pdf"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from inventory.models import Unit
from workbench.labels import KINDS, PROFILES, labels_pdf


class Command(BaseCommand):
    help = "Print the labels of a lot's cards to a PDF: asset labels (QR of the asset tag) or certificate labels."

    def add_arguments(self, parser):
        parser.add_argument("--lot", required=True, help="The lot's reference")
        parser.add_argument("--profile", default="62x29", choices=list(PROFILES))
        parser.add_argument("--kind", default="asset", choices=list(KINDS))
        parser.add_argument("--out", required=True, type=Path)

    def handle(self, *args, **opts):
        units = list(Unit.objects.filter(lot__reference=opts["lot"]).select_related("gpu_model").order_by("asset_tag"))
        if not units:
            raise CommandError(f"no lot {opts['lot']!r}, or it has no cards")
        try:
            pdf = labels_pdf(units, profile=opts["profile"], kind=opts["kind"])
        except DomainError as exc:
            raise CommandError("; ".join(f"{f}: {' '.join(p)}" for f, p in exc.errors.items())) from exc
        opts["out"].write_bytes(pdf)
        self.stdout.write(self.style.SUCCESS(f"{len(units)} {opts['kind']} labels ({opts['profile']}) written to "
                                             f"{opts['out']}"))
