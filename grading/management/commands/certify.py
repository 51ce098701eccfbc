"""python manage.py certify [ASSET_TAG …] [--all-graded] [--json]: issue signed certificates for graded cards."""

from __future__ import annotations

import json as json_module

from django.core.management.base import BaseCommand, CommandError

from grading.services import certificate_issue
from inventory.choices import UnitState
from inventory.errors import DomainError
from inventory.models import Unit
from inventory.selectors import units_by_asset_tag


class Command(BaseCommand):
    help = ("Issue a signed certificate for each graded card (its PDF is rendered by a worker, or here without a "
            "broker) and print the verification URLs; each card moves to certified.")

    def add_arguments(self, parser):
        parser.add_argument("asset_tags", nargs="*", metavar="ASSET_TAG")
        parser.add_argument("--all-graded", action="store_true", help="every graded card")
        parser.add_argument("--json", action="store_true", help="print the certificates as JSON")

    def handle(self, *args, asset_tags, all_graded: bool, json: bool, **options):
        if bool(asset_tags) == all_graded:
            raise CommandError("name asset tags or give --all-graded (one or the other)", returncode=2)
        if all_graded:
            units = list(Unit.objects.filter(state=UnitState.GRADED).exclude(grades__isnull=True).distinct()
                         .order_by("asset_tag"))
        else:
            units, unknown = units_by_asset_tag(asset_tags)
            if unknown:
                raise CommandError(f"no unit with asset tag {', '.join(unknown)}", returncode=2)
        rows, refused = [], []
        for unit in units:
            try:
                certificate = certificate_issue(unit=unit, actor_label="manage.py certify")
            except DomainError as exc:
                refused.append(f"{unit.asset_tag}: {exc}")
                continue
            grade = certificate.payload["grade"]
            rows.append({"asset_tag": unit.asset_tag, "certificate": certificate.printed_id,
                         "grade": f"{grade['functional']}/{grade['cosmetic'] or '-'}",
                         "verify_url": certificate.payload["verify_url"]})
        if json:
            self.stdout.write(json_module.dumps(rows, indent=2))
        else:
            for row in rows:
                self.stdout.write(f"{row['asset_tag']:<13} {row['grade']:<6} {row['certificate']}  {row['verify_url']}")
            self.stdout.write(f"{len(rows)} certified" + (f", {len(refused)} refused" if refused else ""))
        for line in refused:
            self.stderr.write(line)
        if refused:
            raise CommandError(f"{len(refused)} card(s) could not be certified", returncode=1)
